"""The exceptions of certificate and signature checks (no imports, so clients can catch them cheaply)."""


class CertificateError(ValueError):
    """A certificate (signature, tree, time, delegation, canister range) or a query reply's node
    signature is invalid or malformed."""


class NotAuthorized(CertificateError):
    """The subnet is not authorised for the canister: the canister is outside its canister ranges."""
