"""Every JSON request body of every route derives from kb.models.inputs.Input, so the input
rules (unknown fields, control characters, strict types, no null for NOT NULL) hold everywhere."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi.routing import APIRoute
from pydantic import BaseModel

import api.routers
from kb.models.inputs import Input


def test_every_json_body_is_an_input():
    bodies = {}
    routes = [route for info in pkgutil.iter_modules(api.routers.__path__)
              for route in importlib.import_module(f"api.routers.{info.name}").router.routes]
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        for param in route.dependant.body_params:
            annotation = param.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                bodies[f"{sorted(route.methods)[0]} {route.path}"] = annotation
    assert len(bodies) >= 25, sorted(bodies)          # the walk found the routes at all
    strays = {route: model.__name__ for route, model in bodies.items() if not issubclass(model, Input)}
    assert strays == {}
