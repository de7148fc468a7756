"""The API routers. Importing the package registers the path convertors their paths use
(``{number:case_number}``, ``{version:model_version}``) before any route is compiled."""

import api.routing  # noqa: F401
