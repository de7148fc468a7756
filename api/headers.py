"""Security headers on every response (pure ASGI).

The pages keep the user's API key in the browser, so a script injected into a page must not
run: the Content-Security-Policy allows scripts only from this origin's files (no inline
script, no eval), forbids framing (click-jacking) and plugins. ``nosniff`` stops a browser from
running a downloaded CSV or Markdown file as a script; the referrer policy keeps case numbers
in URLs from leaking to other sites. FastAPI's /docs page loads Swagger UI with an inline
script, so it alone gets the headers without the script rule."""

from __future__ import annotations

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
DOCS_CSP = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
DOCS_PATHS = ("/docs", "/redoc")
COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
          (b"x-frame-options", b"DENY")]


class SecurityHeaders:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (DOCS_CSP if scope["path"].startswith(DOCS_PATHS) else CSP).encode()

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *COMMON, (b"content-security-policy", csp)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
