"""The browser side: server-rendered page shells (Jinja2) whose small scripts call the same
JSON API as every other client, with the signed-in user's API key. No build step and no
CDN: scripts, styles and the chart library are served from ``api/web/static``."""
