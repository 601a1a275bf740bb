"""Butcher tableaux of the explicit embedded Runge--Kutta pairs, as data for one step engine.

Each pair is given by its coefficients as exact strings (rationals ``"p/q"`` or the decimals of the published
codes, 28-30 significant digits), from which :func:`tableau` builds exact :class:`fractions.Fraction` arrays
(for the order-condition test) and this module builds the float64 arrays the compiled step engine
(:mod:`memtheory.dynamics.explicit`) reads, stacked over the pairs (index :data:`ERK_DOPRI5` or
:data:`ERK_DOP853`):

``ERK_A[k, s, j]``, ``ERK_C[k, s]``
    stage coefficients; the last *main* stage (``ERK_INT[k, I_FSAL]``) is evaluated at the new solution
    (its row of ``A`` is the propagation weights ``b``: "first same as last"), the stages after it are only
    needed by the dense output;
``ERK_E[k]``, ``ERK_E3[k]``
    error weights (propagated minus embedded solution), and for DOP853 the weights of its third-order
    estimate (zero otherwise);
``ERK_D[k, q]``
    dense-output rows: the continuous solution on a step is
    ``u(theta) = r0 + theta (r1 + (1 - theta) (r2 + theta (r3 + (1 - theta) (r4 + theta (r5 + (1 - theta) (r6
    + theta r7))))))`` with ``r0 = y``, ``r1 = y_new - y``, ``r2 = h f(y) - r1``, ``r3 = r1 - h f(y_new) - r2``
    and ``r_{4+q} = h sum_j D[q, j] k_j`` (a Hermite-type form exact at both ends);
``ERK_INT[k]``, ``ERK_F[k]``
    integer and float parameters (indices ``I_*`` and ``F_*``): stage counts, the stage of the stiffness
    indicator, the order, and the step-size controller and stiffness thresholds.

Pairs:

``"dopri5"``
    Dormand & Prince 5(4), seven stages (FSAL), Shampine's fourth-order dense output (the ``D`` of
    Hairer's ``dopri5.f``); PI controller ``beta = 0.04``; stiffness threshold ``h |lambda| > 3.25``.
``"dop853"``
    Dormand & Prince 8(5,3) as in Hairer's ``dop853.f``: twelve stages plus the FSAL stage, an error
    estimate combining the fifth- and third-order embedded solutions
    (``err = err5^2 / sqrt(err5^2 + 0.01 err3^2)``), and a seventh-order dense output that needs three more
    stages (evaluated only on the steps where the interpolant is used); controller exponent 1/8, step ratio
    within [1/3, 6]; stiffness threshold ``h |lambda| > 6.1``.

References
----------
J. R. Dormand, P. J. Prince, "A family of embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6 (1980).
P. J. Prince, J. R. Dormand, "High order embedded Runge-Kutta formulae", J. Comput. Appl. Math. 7 (1981).
E. Hairer, S. P. Norsett, G. Wanner, *Solving Ordinary Differential Equations I*, 2nd ed., Springer (1993),
§II.5 (tables 5.2 and 5.4), §II.6 (dense output), §II.10 (``dopri5.f``, ``dop853.f``), §IV.2 of vol. II.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = [
    "ERK_NAMES",
    "ERK_DOPRI5",
    "ERK_DOP853",
    "MAX_STAGES",
    "MAX_DENSE",
    "I_FSAL",
    "I_STAGES",
    "I_STIFF",
    "I_ORDER",
    "I_NDENSE",
    "I_E3",
    "F_EXPO1",
    "F_BETA",
    "F_FACC1",
    "F_FACC2",
    "F_HLAMB",
    "F_SUSPECT",
    "F_HRHO",
    "ERK_A",
    "ERK_C",
    "ERK_E",
    "ERK_E3",
    "ERK_D",
    "ERK_INT",
    "ERK_F",
    "Tableau",
    "tableau",
]

#: Names of the pairs, in the order of the stacked arrays.
ERK_NAMES = ("dopri5", "dop853")
ERK_DOPRI5 = 0
ERK_DOP853 = 1
#: Largest number of stages (with the dense-output stages) and of dense rows ``r4..``.
MAX_STAGES = 16
MAX_DENSE = 4

# ERK_INT columns.
I_FSAL = 0  # index of the FSAL stage (evaluated at the new solution)
I_STAGES = 1  # number of stages with the dense-output ones
I_STIFF = 2  # stage evaluated at t + h whose argument, against the FSAL stage, gives the stiffness indicator
I_ORDER = 3  # order of the propagated solution (starting step)
I_NDENSE = 4  # number of dense rows r4, r5, ...
I_E3 = 5  # 1: DOP853's combined error estimate with ERK_E3
# ERK_F columns.
F_EXPO1 = 0  # controller: fac11 = err ** EXPO1
F_BETA = 1  # PI stabilisation exponent
F_FACC1 = 2  # largest step decrease
F_FACC2 = 3  # 1 / largest step increase
F_HLAMB = 4  # Hairer's stiffness threshold on h |lambda|
F_SUSPECT = 5  # h |lambda| above this on 15 steps: check h rho(J)
F_HRHO = 6  # h rho(J) above this: stiff


@dataclass(frozen=True, repr=False)
class Tableau:
    """An explicit embedded pair with exact coefficients (:class:`fractions.Fraction`).

    Attributes
    ----------
    name : str
    order, embedded_order : int
        Orders of the propagated and of the embedded solution.
    dense_order : int
        Order of the dense output.
    A : list of list of Fraction
        ``A[s][j]`` for all stages (``s x s``, strictly lower triangular).
    c : list of Fraction
    b : list of Fraction
        Propagation weights over the main stages (up to and including the FSAL stage, whose weight is 0).
    b_embedded : list of Fraction
        Weights of the embedded solution (``b - e``) over the same stages.
    b_third : list of Fraction or None
        DOP853's third-order weights (``b - e3``), None for the other pairs.
    D : list of list of Fraction
        Dense rows over all stages.
    fsal : int
        Index of the FSAL stage.
    """

    name: str
    order: int
    embedded_order: int
    dense_order: int
    A: list
    c: list
    b: list
    b_embedded: list
    b_third: list | None
    D: list
    fsal: int

    def __repr__(self) -> str:
        third = ",3" if self.b_third is not None else ""
        return (f"Tableau({self.name!r}, order {self.order}({self.embedded_order}{third}), {len(self.c)} stages, "
                f"dense order {self.dense_order})")


def _mat(entries: dict, s: int) -> list:
    A = [[Fraction(0)] * s for _ in range(s)]
    for (i, j), v in entries.items():
        A[i - 1][j - 1] = Fraction(v)
    return A


def _vec(entries: dict, s: int) -> list:
    v = [Fraction(0)] * s
    for i, x in entries.items():
        v[i - 1] = Fraction(x)
    return v


# ----------------------------------------------------------------------------------------------- Dormand-Prince 5(4)
_DP5_A = {
    (2, 1): "1/5",
    (3, 1): "3/40", (3, 2): "9/40",
    (4, 1): "44/45", (4, 2): "-56/15", (4, 3): "32/9",
    (5, 1): "19372/6561", (5, 2): "-25360/2187", (5, 3): "64448/6561", (5, 4): "-212/729",
    (6, 1): "9017/3168", (6, 2): "-355/33", (6, 3): "46732/5247", (6, 4): "49/176", (6, 5): "-5103/18656",
    (7, 1): "35/384", (7, 3): "500/1113", (7, 4): "125/192", (7, 5): "-2187/6784", (7, 6): "11/84",
}
_DP5_C = {2: "1/5", 3: "3/10", 4: "4/5", 5: "8/9", 6: "1", 7: "1"}
_DP5_E = {1: "71/57600", 3: "-71/16695", 4: "71/1920", 5: "-17253/339200", 6: "22/525", 7: "-1/40"}
_DP5_D = {1: "-12715105075/11282082432", 3: "87487479700/32700410799", 4: "-10690763975/1880347072",
          5: "701980252875/199316789632", 6: "-1453857185/822651844", 7: "69997945/29380423"}

# ------------------------------------------------------------------------------------------ Dormand-Prince 8(5,3)
_DOP853_C = {
    2: "0.526001519587677318785587544488E-01", 3: "0.789002279381515978178381316732E-01",
    4: "0.118350341907227396726757197510", 5: "0.281649658092772603273242802490",
    6: "0.333333333333333333333333333333", 7: "0.25", 8: "0.307692307692307692307692307692",
    9: "0.651282051282051282051282051282", 10: "0.6", 11: "0.857142857142857142857142857142",
    12: "1", 13: "1", 14: "0.1", 15: "0.2", 16: "0.777777777777777777777777777778",
}
_DOP853_B = {
    1: "5.42937341165687622380535766363E-2", 6: "4.45031289275240888144113950566", 7: "1.89151789931450038304281599044",
    8: "-5.8012039600105847814672114227", 9: "3.1116436695781989440891606237E-1",
    10: "-1.52160949662516078556178806805E-1", 11: "2.01365400804030348374776537501E-1",
    12: "4.47106157277725905176885569043E-2",
}
_DOP853_A = {
    (2, 1): "5.26001519587677318785587544488E-2",
    (3, 1): "1.97250569845378994544595329183E-2", (3, 2): "5.91751709536136983633785987549E-2",
    (4, 1): "2.95875854768068491816892993775E-2", (4, 3): "8.87627564304205475450678981324E-2",
    (5, 1): "2.41365134159266685502369798665E-1", (5, 3): "-8.84549479328286085344864962717E-1",
    (5, 4): "9.24834003261792003115737966543E-1",
    (6, 1): "3.7037037037037037037037037037E-2", (6, 4): "1.70828608729473871279604482173E-1",
    (6, 5): "1.25467687566822425016691814123E-1",
    (7, 1): "3.7109375E-2", (7, 4): "1.70252211019544039314978060272E-1", (7, 5): "6.02165389804559606850219397283E-2",
    (7, 6): "-1.7578125E-2",
    (8, 1): "3.70920001185047927108779319836E-2", (8, 4): "1.70383925712239993810214054705E-1",
    (8, 5): "1.07262030446373284651809199168E-1", (8, 6): "-1.53194377486244017527936158236E-2",
    (8, 7): "8.27378916381402288758473766002E-3",
    (9, 1): "6.24110958716075717114429577812E-1", (9, 4): "-3.36089262944694129406857109825",
    (9, 5): "-8.68219346841726006818189891453E-1", (9, 6): "2.75920996994467083049415600797E1",
    (9, 7): "2.01540675504778934086186788979E1", (9, 8): "-4.34898841810699588477366255144E1",
    (10, 1): "4.77662536438264365890433908527E-1", (10, 4): "-2.48811461997166764192642586468",
    (10, 5): "-5.90290826836842996371446475743E-1", (10, 6): "2.12300514481811942347288949897E1",
    (10, 7): "1.52792336328824235832596922938E1", (10, 8): "-3.32882109689848629194453265587E1",
    (10, 9): "-2.03312017085086261358222928593E-2",
    (11, 1): "-9.3714243008598732571704021658E-1", (11, 4): "5.18637242884406370830023853209",
    (11, 5): "1.09143734899672957818500254654", (11, 6): "-8.14978701074692612513997267357",
    (11, 7): "-1.85200656599969598641566180701E1", (11, 8): "2.27394870993505042818970056734E1",
    (11, 9): "2.49360555267965238987089396762", (11, 10): "-3.0467644718982195003823669022",
    (12, 1): "2.27331014751653820792359768449", (12, 4): "-1.05344954667372501984066689879E1",
    (12, 5): "-2.00087205822486249909675718444", (12, 6): "-1.79589318631187989172765950534E1",
    (12, 7): "2.79488845294199600508499808837E1", (12, 8): "-2.85899827713502369474065508674",
    (12, 9): "-8.87285693353062954433549289258", (12, 10): "1.23605671757943030647266201528E1",
    (12, 11): "6.43392746015763530355970484046E-1",
    **{(13, j): v for j, v in _DOP853_B.items()},
    (14, 1): "5.61675022830479523392909219681E-2", (14, 7): "2.53500210216624811088794765333E-1",
    (14, 8): "-2.46239037470802489917441475441E-1", (14, 9): "-1.24191423263816360469010140626E-1",
    (14, 10): "1.5329179827876569731206322685E-1", (14, 11): "8.20105229563468988491666602057E-3",
    (14, 12): "7.56789766054569976138603589584E-3", (14, 13): "-8.298E-3",
    (15, 1): "3.18346481635021405060768473261E-2", (15, 6): "2.83009096723667755288322961402E-2",
    (15, 7): "5.35419883074385676223797384372E-2", (15, 8): "-5.49237485713909884646569340306E-2",
    (15, 11): "-1.08347328697249322858509316994E-4", (15, 12): "3.82571090835658412954920192323E-4",
    (15, 13): "-3.40465008687404560802977114492E-4", (15, 14): "1.41312443674632500278074618366E-1",
    (16, 1): "-4.28896301583791923408573538692E-1", (16, 6): "-4.69762141536116384314449447206",
    (16, 7): "7.68342119606259904184240953878", (16, 8): "4.06898981839711007970213554331",
    (16, 9): "3.56727187455281109270669543021E-1", (16, 13): "-1.39902416515901462129418009734E-3",
    (16, 14): "2.9475147891527723389556272149", (16, 15): "-9.15095847217987001081870187138",
}
# e5 = b(8) - b(5) and the third-order weights bhh (Hairer's ER and BHH).
_DOP853_E5 = {
    1: "0.1312004499419488073250102996E-01", 6: "-0.1225156446376204440720569753E+01",
    7: "-0.4957589496572501915214079952", 8: "0.1664377182454986536961530415E+01",
    9: "-0.3503288487499736816886487290", 10: "0.3341791187130174790297318841",
    11: "0.8192320648511571246570742613E-01", 12: "-0.2235530786388629525884427845E-01",
}
_DOP853_BHH = {1: "0.244094488188976377952755905512", 9: "0.733846688281611857341361741547",
               12: "0.220588235294117647058823529412E-01"}
_DOP853_D = [
    {1: "-0.84289382761090128651353491142E+01", 6: "0.56671495351937776962531783590",
     7: "-0.30689499459498916912797304727E+01", 8: "0.23846676565120698287728149680E+01",
     9: "0.21170345824450282767155149946E+01", 10: "-0.87139158377797299206789907490",
     11: "0.22404374302607882758541771650E+01", 12: "0.63157877876946881815570249290",
     13: "-0.88990336451333310820698117400E-01", 14: "0.18148505520854727256656404962E+02",
     15: "-0.91946323924783554000451984436E+01", 16: "-0.44360363875948939664310572000E+01"},
    {1: "0.10427508642579134603413151009E+02", 6: "0.24228349177525818288430175319E+03",
     7: "0.16520045171727028198505394887E+03", 8: "-0.37454675472269020279518312152E+03",
     9: "-0.22113666853125306036270938578E+02", 10: "0.77334326684722638389603898808E+01",
     11: "-0.30674084731089398182061213626E+02", 12: "-0.93321305264302278729567221706E+01",
     13: "0.15697238121770843886131091075E+02", 14: "-0.31139403219565177677282850411E+02",
     15: "-0.93529243588444783865713862664E+01", 16: "0.35816841486394083752465898540E+02"},
    {1: "0.19985053242002433820987653617E+02", 6: "-0.38703730874935176555105901742E+03",
     7: "-0.18917813819516756882830838328E+03", 8: "0.52780815920542364900561016686E+03",
     9: "-0.11573902539959630126141871134E+02", 10: "0.68812326946963000169666922661E+01",
     11: "-0.10006050966910838403183860980E+01", 12: "0.77771377980534432092869265740",
     13: "-0.27782057523535084065932004339E+01", 14: "-0.60196695231264120758267380846E+02",
     15: "0.84320405506677161018159903784E+02", 16: "0.11992291136182789328035130030E+02"},
    {1: "-0.25693933462703749003312586129E+02", 6: "-0.15418974869023643374053993627E+03",
     7: "-0.23152937917604549567536039109E+03", 8: "0.35763911791061412378285349910E+03",
     9: "0.93405324183624310003907691704E+02", 10: "-0.37458323136451633156875139351E+02",
     11: "0.10409964950896230045147246184E+03", 12: "0.29840293426660503123344363579E+02",
     13: "-0.43533456590011143754432175058E+02", 14: "0.96324553959188282948394950600E+02",
     15: "-0.39177261675615439165231486172E+02", 16: "-0.14972683625798562581422125276E+03"},
]


def tableau(name: str) -> Tableau:
    """The exact coefficients of the pair ``name`` (one of :data:`ERK_NAMES`).

    Parameters
    ----------
    name : str
        ``"dopri5"`` or ``"dop853"``.

    Returns
    -------
    Tableau
    """
    if name == "dopri5":
        s, fsal = 7, 6
        A = _mat(_DP5_A, s)
        b = A[fsal][:]
        e = _vec(_DP5_E, s)
        return Tableau("dopri5", 5, 4, 4, A, _vec(_DP5_C, s), b, [bi - ei for bi, ei in zip(b, e)], None,
                       [_vec(_DP5_D, s)], fsal)
    if name == "dop853":
        s, fsal = 16, 12
        A = _mat(_DOP853_A, s)
        b = A[fsal][: fsal + 1]
        e5 = _vec(_DOP853_E5, fsal + 1)
        bhh = _vec(_DOP853_BHH, fsal + 1)
        return Tableau("dop853", 8, 5, 7, A, _vec(_DOP853_C, s), b, [bi - ei for bi, ei in zip(b, e5)], bhh,
                       [_vec(d, s) for d in _DOP853_D], fsal)
    raise ValueError(f"unknown explicit pair {name!r}; available: {ERK_NAMES}")


def _stack() -> tuple:
    k = len(ERK_NAMES)
    A = np.zeros((k, MAX_STAGES, MAX_STAGES))
    C = np.zeros((k, MAX_STAGES))
    E = np.zeros((k, MAX_STAGES))
    E3 = np.zeros((k, MAX_STAGES))
    D = np.zeros((k, MAX_DENSE, MAX_STAGES))
    INT = np.zeros((k, 6), dtype=np.int64)
    F = np.zeros((k, 7))
    for idx, name in enumerate(ERK_NAMES):
        tab = tableau(name)
        s = len(tab.c)
        A[idx, :s, :s] = [[float(x) for x in row] for row in tab.A]
        C[idx, :s] = [float(x) for x in tab.c]
        nb = len(tab.b)
        E[idx, :nb] = [float(bi - be) for bi, be in zip(tab.b, tab.b_embedded)]
        if tab.b_third is not None:
            E3[idx, :nb] = [float(bi - b3) for bi, b3 in zip(tab.b, tab.b_third)]
        for q, row in enumerate(tab.D):
            D[idx, q, :s] = [float(x) for x in row]
        # the stiffness indicator compares the FSAL stage with the last main stage at t + h
        INT[idx] = (tab.fsal, s, tab.fsal - 1, tab.order, len(tab.D), int(tab.b_third is not None))
    # controllers (dopri5.f and dop853.f defaults): expo1 = 1/q - 0.75 beta (dopri5), 1/8 - 0.2 beta (dop853)
    F[ERK_DOPRI5] = (0.2 - 0.04 * 0.75, 0.04, 1.0 / 0.2, 1.0 / 10.0, 3.25, 0.8, 1.5)
    # DOP853's stability boundary is about twice DOPRI5's: Hairer's threshold 6.1, and the suspicion and
    # spectral-radius thresholds of DOPRI5 scaled by the same factor 6.1 / 3.25
    F[ERK_DOP853] = (1.0 / 8.0, 0.0, 1.0 / 0.333, 1.0 / 6.0, 6.1, 0.8 * 6.1 / 3.25, 1.5 * 6.1 / 3.25)
    return A, C, E, E3, D, INT, F


#: Stacked float64 coefficient arrays of the pairs (see the module docstring).
ERK_A, ERK_C, ERK_E, ERK_E3, ERK_D, ERK_INT, ERK_F = _stack()
