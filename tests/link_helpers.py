"""What a browser does with a signed link, spelled out for tests: follow the 303, keep the
cookie. (httpx keeps Secure cookies for https only, and the tests mostly speak http.)"""

from http.cookies import SimpleCookie

import httpx

from app.auth.links import COOKIE_NAME


def cookie_of(response: httpx.Response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    assert COOKIE_NAME in jar, response.headers["set-cookie"]
    return jar


async def open_link(http: httpx.AsyncClient, url: str) -> tuple[str, dict[str, str]]:
    """Open a link as a browser would: its plain address, and the Cookie header to send."""
    exchange = await http.get(url)
    assert exchange.status_code == 303, exchange.text
    value = cookie_of(exchange)[COOKIE_NAME].value
    return exchange.headers["location"], {"Cookie": f"{COOKIE_NAME}={value}"}
