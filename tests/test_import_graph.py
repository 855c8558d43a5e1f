"""The package's import graph, read from the source (every import, also those inside functions):
no circles, and device-side code never reaches into host-side folders (see tests/layout.py)."""

from __future__ import annotations

from tests.layout import (
    DEVICE_FOLDERS,
    FORBIDDEN_FROM_DEVICE,
    area,
    cycles,
    folder_graph,
    import_graph,
    is_device_side,
)


def test_the_graph_is_read_from_the_source():
    graph = import_graph()
    assert len(graph) > 150
    assert "edge_runtime.runtime.loader" in graph["edge_runtime.agent.registry"]  # an import inside a function
    assert "edge_runtime.runtime.build.trt_build" in graph["edge_runtime.compiler.compile"]


def test_no_module_imports_itself_through_others():
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_device_side_code_imports_no_host_side_folder():
    reaching_out = sorted(
        "%s imports %s" % (module, other)
        for module, imported in import_graph().items() if is_device_side(module)
        for other in imported if area(other) in FORBIDDEN_FROM_DEVICE
    )
    assert reaching_out == []


def test_device_side_folders_import_each_other_without_circles():
    folders = folder_graph(import_graph(), DEVICE_FOLDERS)
    assert cycles(folders) == []
    assert "modelpkg" in folders["runtime"] and folders["modelpkg"] == set()  # the format is the bottom layer


def test_no_folder_imports_itself_through_others():
    graph = import_graph()
    folders = folder_graph(graph, sorted({area(m) for m in graph} - {""}))
    assert cycles(folders) == []
    assert "evaluate" in folders["train"] and "train" not in folders["evaluate"]


def test_the_compiler_uses_the_runtime_and_not_the_other_way():
    folders = folder_graph(import_graph(), ("compiler", "runtime"))
    assert folders == {"compiler": {"runtime"}, "runtime": set()}


def test_the_console_uses_the_server_and_not_the_other_way():
    folders = folder_graph(import_graph(), ("console", "server"))
    assert folders == {"console": {"server"}, "server": set()}
