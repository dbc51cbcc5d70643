"""CIEDE2000 from one colour to many, compiled by numba: `core.colors.delta_e`'s steps, in the
same order, one colour at a time. Imported (and compiled) on first use only."""

import math

import numpy as np
from numba import njit

DEG, RAD, C25 = 180.0 / math.pi, math.pi / 180.0, 25.0**7


@njit(cache=True, nogil=True)
def delta_e_to(labs, L2, a2, b2):
    out = np.empty(labs.shape[0])
    C2 = math.hypot(a2, b2)
    for i in range(labs.shape[0]):
        L1, a1, b1 = labs[i, 0], labs[i, 1], labs[i, 2]
        C1 = math.hypot(a1, b1)
        Cm7 = ((C1 + C2) / 2) ** 7.0
        G = 0.5 * (1 - math.sqrt(Cm7 / (Cm7 + C25)))
        a1p, a2p = (1 + G) * a1, (1 + G) * a2
        C1p, C2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
        h1p = (math.atan2(b1, a1p) * DEG) % 360
        h2p = (math.atan2(b2, a2p) * DEG) % 360
        dLp, dCp = L2 - L1, C2p - C1p
        dh = h2p - h1p
        dh = dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
        if C1p * C2p == 0:
            dh = 0.0
        dHp = 2 * math.sqrt(C1p * C2p) * math.sin((dh / 2) * RAD)
        Lpm, Cpm = (L1 + L2) / 2, (C1p + C2p) / 2
        hsum = h1p + h2p
        if C1p * C2p == 0:
            hpm = hsum
        elif abs(h1p - h2p) <= 180:
            hpm = hsum / 2
        else:
            hpm = (hsum + 360) / 2 if hsum < 360 else (hsum - 360) / 2
        T = (
            1
            - 0.17 * math.cos((hpm - 30) * RAD)
            + 0.24 * math.cos((2 * hpm) * RAD)
            + 0.32 * math.cos((3 * hpm + 6) * RAD)
            - 0.20 * math.cos((4 * hpm - 63) * RAD)
        )
        SL = 1 + 0.015 * (Lpm - 50) ** 2 / math.sqrt(20 + (Lpm - 50) ** 2)
        SC, SH = 1 + 0.045 * Cpm, 1 + 0.015 * Cpm * T
        Cpm7 = Cpm**7.0
        RT = -2 * math.sqrt(Cpm7 / (Cpm7 + C25)) * math.sin((60 * math.exp(-(((hpm - 275) / 25) ** 2))) * RAD)
        out[i] = math.sqrt((dLp / SL) ** 2 + (dCp / SC) ** 2 + (dHp / SH) ** 2 + RT * (dCp / SC) * (dHp / SH))
    return out
