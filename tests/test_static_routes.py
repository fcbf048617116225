"""The router's dict of paths without parameters finds, for every path and method, the very route
Starlette's own walk would (the walk is still what answers a parameter, a wrong method, a 404)."""

from __future__ import annotations

from starlette.routing import Match

from emulator.app import create_app
from emulator.config import Settings


def _walk(router, path: str, method: str):
    scope = {"type": "http", "path": path, "method": method, "root_path": ""}
    for route in router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def test_every_path_and_method_in_the_dict_is_the_route_the_walk_finds():
    router = create_app(Settings()).router
    assert ("/_emulator/fixtures", "POST") in router.static  # a second method of one path is there
    assert ("/_emulator/fixtures", "GET") in router.static
    assert len(router.static) > 40
    for (path, method), route in router.static.items():
        assert _walk(router, path, method) is route, (method, path)
