"""The local web app (``toolkit web``, ``python -m toolkit.web``): report folders and live
sessions in a browser, a running session updated live, the kill switch and cancel-all as
confirmed, journaled commands. Needs the ``web`` extra (``pip install 'ibkr-toolkit[web]'``).

``create_app(WebSettings(...))`` builds the FastAPI app (serve it with uvicorn, or test it
with an HTTP client)."""

from toolkit.web.app import WebSettings, create_app

__all__ = ["WebSettings", "create_app"]
