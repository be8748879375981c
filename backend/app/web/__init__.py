"""The web app: server-rendered pages over the same functions as the JSON API (docs/web.md).

Templates in ``templates/web/``, one stylesheet and small ES modules in ``static/`` served at
``/assets/`` by the app itself (no CDN, no build step). Registering the blueprint installs what the
pages need app-wide: Flask-Babel, the date/money/timestamp filters and HTML error pages for browsers.
"""

from flask import Blueprint, Flask

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")


def _install(app: Flask) -> None:
    from app.i18n import install_i18n
    from app.web.errors import install_html_errors
    from app.web.formatting import install_filters
    from app.web.layout import install_layout

    install_i18n(app)
    install_filters(app)
    install_layout(app)
    install_html_errors(app)


bp.record_once(lambda state: _install(state.app))

from app.web import (  # noqa: E402,F401  (views attach themselves to bp)
    account,
    documents,
    exports,
    guard,
    imports,
    intake,
    invoices,
    operator,
    ots,
    pages,
    records,
)
