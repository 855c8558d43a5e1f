"""`edge-runtime package start|describe|list|agent`: Lookout's model packaging jobs, and the agent component.

Each subcommand maps to one library call in edge_runtime.packaging; results print as JSON in Lookout's
shapes (ModelPackagingDescription, ModelPackagingJobs + NextToken). `start` exits 0 when the job
SUCCEEDED, 1 when it FAILED (the reason is in StatusMessage), 2 when the request was refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _add_state(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-db", help="state database (default $EDGE_RUNTIME_HOME/state.db or "
                        "~/.edge-runtime/state.db)")


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--s3-output", help="s3://bucket/prefix to publish to")
    parser.add_argument("--output-dir", help="local folder with the same layout (instead of S3)")
    parser.add_argument("--register", action="store_true",
                        help="also CreateComponentVersion in Greengrass and wait for DEPLOYABLE (S3 only)")
    parser.add_argument("--recipe-format", choices=("json", "yaml"), default="json")
    parser.add_argument("--tag", action="append", default=[], metavar="K=V", help="component tag (repeatable)")


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("package", help="package models (and the agent) as Greengrass components")
    commands = parser.add_subparsers(dest="package_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: _help(parser))

    start = commands.add_parser("start", help="start a model packaging job (Lookout StartModelPackagingJob)")
    start.add_argument("--model", required=True,
                       help="model package folder: training's output, or `compile` output (packaged as it is; "
                       "the target flags may then be left out)")
    start.add_argument("--component-name", required=True)
    start.add_argument("--component-version", help="MAJOR.MINOR.PATCH (default <model version>.0.0)")
    start.add_argument("--component-description")
    start.add_argument("--target-device", choices=("jetson_xavier",))
    start.add_argument("--target-platform", help="Os=LINUX,Arch=ARM64|X86_64[,Accelerator=NVIDIA]")
    start.add_argument("--compiler-options", help="JSON, e.g. '{\"mcpu\": \"core-avx2\"}'")
    start.add_argument("--jetpack", help="require platform attribute jetpack=<value> (NVIDIA ARM64 targets)")
    start.add_argument("--job-name")
    start.add_argument("--description", help="job description (also the component's unless given)")
    start.add_argument("--client-token", help="idempotency token (8 hours)")
    _add_output(start)
    _add_state(start)
    start.set_defaults(func=run_start)

    describe = commands.add_parser("describe", help="describe a packaging job")
    describe.add_argument("job_name")
    describe.add_argument("--project", help="project (model name) when the job name is not unique")
    _add_state(describe)
    describe.set_defaults(func=run_describe)

    listing = commands.add_parser("list", help="list packaging jobs, oldest first")
    listing.add_argument("--project")
    listing.add_argument("--max-results", type=int, default=100)
    listing.add_argument("--next-token")
    _add_state(listing)
    listing.set_defaults(func=run_list)

    agent = commands.add_parser("agent", help="publish the agent itself as component EdgeRuntime.Agent")
    agent.add_argument("--component-version", help="default: the wheel's version")
    agent.add_argument("--wheel", help="use this built wheel instead of building one from the source tree")
    _add_output(agent)
    agent.set_defaults(func=run_agent)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _print(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def _progress(message: str) -> None:
    print("[package] %s" % message, file=sys.stderr, flush=True)


def _store(args: argparse.Namespace) -> Any:
    from edge_runtime.packaging.jobs import PackagingJobStore
    from edge_runtime.packaging.reclaim import reclaim_interrupted
    from edge_runtime.packaging.statedb import StateDatabase

    store = PackagingJobStore(StateDatabase(args.state_db))
    for name in reclaim_interrupted(store):  # the next command closes jobs whose process was killed
        _progress("job %s was interrupted and is now FAILED" % name)
    return store


def _target(args: argparse.Namespace) -> Any:
    """The flags' target; with none given, a compiled package's own (its edge-build.json)."""
    from edge_runtime.compiler.targets import CompileTarget, target_from_text
    from edge_runtime.modelpkg.build import is_compiled, read_build

    flags = (args.target_device, args.target_platform, args.compiler_options)
    if flags == (None, None, None) and is_compiled(args.model):
        return CompileTarget.from_dict(read_build(args.model).target)
    return target_from_text(*flags)


def run_start(args: argparse.Namespace) -> int:
    from edge_runtime.packaging import rules
    from edge_runtime.packaging.model_job import JobServices, start_job
    from edge_runtime.packaging.request import OutputLocation, PackagingRequest

    request = PackagingRequest(
        model_dir=args.model, component_name=args.component_name,
        output=OutputLocation.parse(args.s3_output, args.output_dir), target=_target(args),
        component_version=args.component_version,
        component_description=args.component_description or args.description,
        tags=tuple(rules.parse_key_values(args.tag, "--tag").items()),
        job_name=args.job_name, description=args.description, client_token=args.client_token,
        register=args.register, jetpack=args.jetpack, recipe_format=args.recipe_format,
    )
    job = start_job(request, JobServices(store=_store(args), progress=_progress))
    _print({"JobName": job.job_name, "ModelPackagingDescription": job.description_dict()})
    return 0 if job.status == "SUCCEEDED" else 1


def run_describe(args: argparse.Namespace) -> int:
    job = _store(args).get(args.job_name, args.project)
    _print({"ModelPackagingDescription": job.description_dict()})
    return 0


def run_list(args: argparse.Namespace) -> int:
    jobs, token = _store(args).list(args.project, args.max_results, args.next_token)
    data: Any = {"ModelPackagingJobs": [j.metadata() for j in jobs]}
    if token:
        data["NextToken"] = token
    _print(data)
    return 0


def run_agent(args: argparse.Namespace) -> int:
    from edge_runtime.packaging import rules
    from edge_runtime.packaging.agent_job import AgentPackageRequest, AgentServices, package_agent
    from edge_runtime.packaging.request import OutputLocation

    request = AgentPackageRequest(
        output=OutputLocation.parse(args.s3_output, args.output_dir), component_version=args.component_version,
        wheel=args.wheel, register=args.register, recipe_format=args.recipe_format,
        tags=tuple(rules.parse_key_values(args.tag, "--tag").items()),
    )
    result = package_agent(request, AgentServices(progress=_progress))
    _print({"ComponentName": result.component_name, "ComponentVersion": result.component_version,
            "RecipeLocation": result.recipe_location,
            "Artifacts": result.artifact_uris, "ComponentVersionArn": result.component_arn})
    return 0
