"""POSTing JSON for slack and webhook, with one classification of failures."""

import httpx

from monitoring.alerting.transports.base import PermanentError, TransportError


def post_json(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> str:
    try:
        response = httpx.post(
            url, content=body, headers={"Content-Type": "application/json", **headers}, timeout=timeout
        )
    except httpx.TimeoutException as exc:
        raise TransportError(f"timed out after {timeout:g}s") from exc
    except httpx.HTTPError as exc:
        raise TransportError(f"connection failed: {exc}") from exc
    if response.is_success:
        return f"HTTP {response.status_code}"
    text = response.text[:200]
    if response.status_code == 429:
        raise TransportError(f"HTTP 429 rate limited: {text}", retry_after=_retry_after(response))
    if 400 <= response.status_code < 500:
        raise PermanentError(f"HTTP {response.status_code}: {text}")
    raise TransportError(f"HTTP {response.status_code}: {text}")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff
