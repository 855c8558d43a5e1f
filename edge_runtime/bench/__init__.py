"""`edge-runtime bench`: frames per second and latency of a model on this box, at several concurrencies.

Layout: `config` (validated settings), `targets` (what is measured: the agent over its socket or TCP,
or the model in-process with the agent's batcher), `runner` (warm-up, closed-loop client threads per
concurrency), `procstats` (CPU, memory and GPU use of the serving process), `stats`, `report`
(table, JSON, plots), `progress` (the live line on stderr). Python 3.8 compatible: it runs on devices.
"""
