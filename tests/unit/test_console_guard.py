"""The sandbox console signs requests as the seeded users: it answers loopback only."""


def test_the_sandbox_console_answers_loopback_only():
    """It signs requests as the seeded users, so another machine must not reach it, whatever the bind."""
    import asyncio

    from starlette.requests import Request

    from sandbox.console import loopback_only

    async def page(request):
        from starlette.responses import PlainTextResponse
        return PlainTextResponse("ok")

    def status(host):
        scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": (host, 1234),
                 "query_string": b""}
        return asyncio.run(loopback_only(page)(Request(scope))).status_code

    assert status("127.0.0.1") == 200 and status("::1") == 200
    assert status("10.1.2.3") == 403
