"""A module imported by the sample canister: its Variant must be found by walking imports."""

from kybra import Variant, float64, nat32, null


class Shape(Variant, total=False):
    Circle: float64
    Square: nat32
    Dot: null


def area(s: Shape) -> float:
    if "Circle" in s:
        return 3.0 * s["Circle"] * s["Circle"]
    if "Square" in s:
        return float(s["Square"] * s["Square"])
    return 0.0
