"""The package's public names: the list is pinned, each one is the object the docs name, and
importing the package stays cheap (the pytest plugin imports it at every pytest start)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import emulator
import emulator.testing

PUBLIC = [
    "RATE_LIMITS_AFTER",
    "EmulatorServer",
    "ParadigmEmulator",
    "RemoteServer",
    "Settings",
    "Step",
    "__version__",
    "create_app",
    "create_app_from_env",
]


def test_the_public_names_are_pinned() -> None:
    assert emulator.__all__ == PUBLIC
    assert emulator.testing.__all__ == [
        "ControlError", "ParadigmEmulator", "RemoteServer", "Request", "RequestLog", "Rule",
    ]


@pytest.mark.parametrize(("name", "home"), [
    pytest.param("Settings", "emulator.config", id="Settings"),
    pytest.param("create_app", "emulator.app", id="create_app"),
    pytest.param("create_app_from_env", "emulator.app", id="create_app_from_env"),
    pytest.param("EmulatorServer", "emulator.server", id="EmulatorServer"),
    pytest.param("ParadigmEmulator", "emulator.testing.handle", id="ParadigmEmulator"),
    pytest.param("RemoteServer", "emulator.testing.handle", id="RemoteServer"),
    pytest.param("Step", "emulator.pipeline", id="Step"),
    pytest.param("RATE_LIMITS_AFTER", "emulator.pipeline", id="RATE_LIMITS_AFTER"),
    pytest.param("__version__", "emulator.version", id="version"),
])
def test_each_public_name_is_the_object_of_its_home_module(name: str, home: str) -> None:
    module = __import__(home, fromlist=[name])
    assert getattr(emulator, name) is getattr(module, name)
    assert name in dir(emulator)


def test_the_version_is_the_distributions() -> None:
    from importlib.metadata import version

    assert emulator.__version__ == version("paradigm-emulator")


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        emulator.Nope  # noqa: B018 -- the lookup is what is tested
    assert not hasattr(emulator, "server_of_nothing")


def test_importing_the_package_and_the_plugin_loads_neither_the_server_nor_its_libraries() -> None:
    heavy = ["emulator.server", "emulator.app", "emulator.config", "emulator.testing", "uvicorn",
             "starlette", "openai", "faker"]
    script = f"import sys, emulator, emulator.plugin; print(sorted(set({heavy!r}) & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_package_ships_its_type_marker() -> None:
    package = Path(emulator.__file__).parent
    assert (package / "py.typed").is_file()
