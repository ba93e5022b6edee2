"""The IC's HTTP-interface protocol pieces shared by the client and localnet: request ids, principal
text, hash trees, tagged CBOR, BLS signatures, certificates and query-reply signatures.

Import-light on purpose: importing the package imports nothing; each module pulls in only what it needs
(pyblst and cryptography only when a signature is actually checked or made)."""
