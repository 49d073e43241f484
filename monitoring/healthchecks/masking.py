"""HTTP check headers often carry credentials (Authorization, API keys): they are write-only,
like channel secrets. The API and the admin form show a check's config with every header value
replaced by a mask, and a config sent back with the mask keeps the stored value.
Imports nothing from Django: both edges share it."""

SECRET_MASK = "********"  # noqa: S105 (a placeholder, not a password)


def config_masked(config):
    """The config as people may see it: header names kept, values masked."""
    if isinstance(config, dict) and isinstance(config.get("headers"), dict) and config["headers"]:
        return {**config, "headers": dict.fromkeys(config["headers"], SECRET_MASK)}
    return config


def config_unmasked(config, stored):
    """`config` as submitted, with masked header values put back from the `stored` config."""
    if not isinstance(config, dict):
        return config
    headers = config.get("headers")
    old = stored.get("headers") if isinstance(stored, dict) else None
    if not isinstance(headers, dict) or not isinstance(old, dict):
        return config
    kept = {name: old[name] if value == SECRET_MASK and name in old else value for name, value in headers.items()}
    return {**config, "headers": kept}
