"""Packaging: models and the agent as Greengrass v2 components (Lookout's model packaging jobs).

Modules: request (the job's input), rules (field rules), jobs + statedb (SQLite job store), artifacts
(ZIPs, digests), recipes (validation, rendering), model_component / agent_component (recipes as data),
destinations (S3 or a local folder), publish (ordered upload with clean-up), register (greengrassv2),
compile_step (the compiler seam), model_job / agent_job (what the CLI calls). Host side only.
"""
