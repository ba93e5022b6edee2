"""Domain separators and key constants of the IC interface specification (plain bytes, no imports)."""

REQUEST_DOMAIN = b"\x0aic-request"
RESPONSE_DOMAIN = b"\x0bic-response"
DELEGATION_DOMAIN = b"\x1aic-request-auth-delegation"
STATE_ROOT_DOMAIN = b"\x0dic-state-root"
BLS_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
# DER prefix of a BLS12-381 G2 public key (the IC root key and subnet keys); 96 key bytes follow.
BLS_KEY_DER_PREFIX = bytes.fromhex(
    "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100"
)
# The IC mainnet root key (DER), as published in the interface specification.
MAINNET_ROOT_KEY = BLS_KEY_DER_PREFIX + bytes.fromhex(
    "814c0e6ec71fab583b08bd81373c255c3c371b2e84863c98a4f1e08b74235d14fb5d9c0cd546d9685f913a0c0b2cc534"
    "1583bf4b4392e467db96d65b9bb4cb717112f8472e0d5a4d14505ffd7484b01291091c5f87b98883463f98091a0baaae"
)
