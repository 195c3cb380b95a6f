"""LHS asset-mapping service: organisations map their learning health system assets."""

__version__ = "0.1.0"

# The contract's version (semver; CHANGELOG.md says what each one changed): info.version of the
# OpenAPI document, the API-Version header and GET /v1. Kept apart from the package's version,
# which changes with code the contract does not see.
API_VERSION = "2.3.0"
