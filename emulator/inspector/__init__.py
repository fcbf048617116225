"""The inspector: a page served at ``GET /_emulator/ui`` and the control-API views it reads.

``inspector_routes`` (routes.py) builds the routes from explicit services; the page (page.html,
inspector.js, inspector.css) ships in this package and reads only those JSON views.
"""

from .routes import inspector_routes

__all__ = ["inspector_routes"]
