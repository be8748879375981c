"""The write API: create, edit and delete every record with validation, versions, ETags and history.

Routes attach to the read API's blueprint (``/api``), so the bearer/session guard and the role
check of :mod:`app.auth` apply to them as to everything else.
"""

from app.writes import attachments, routes, transitions  # noqa: F401  (routes attach themselves to app.api.bp)
