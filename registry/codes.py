"""CITES code lists (cites-standards.md §2): reference data, never free text."""

import pycountry

PURPOSES = {
    "B": "Breeding in captivity or artificial propagation",
    "E": "Educational",
    "G": "Botanical garden",
    "H": "Hunting trophy",
    "L": "Law enforcement / judicial / forensic",
    "M": "Medical",
    "N": "Reintroduction or introduction into the wild",
    "P": "Personal",
    "Q": "Circus or travelling exhibition",
    "S": "Scientific",
    "T": "Commercial",
    "Z": "Zoo",
}
SOURCES = {
    "W": "Taken from the wild",
    "R": "Ranched",
    "D": "Appendix I, bred in captivity for commercial purposes",
    "A": "Artificially propagated plants",
    "C": "Bred in captivity",
    "F": "Born in captivity (F1 or later)",
    "U": "Source unknown",
    "I": "Confiscated or seized",
    "O": "Pre-Convention",
    "X": "Introduction from the sea",
}
#: The terms a registry of animals meets; the full list stays in the reference notes.
TERMS = {
    "LIV": "live",
    "BOD": "bodies",
    "SKI": "skins",
    "SKU": "skulls",
    "SKE": "skeletons",
    "EGG": "eggs",
    "EGL": "eggs (live)",
    "FEA": "feathers",
    "SPE": "scientific specimens",
    "TRO": "trophies",
    "TUS": "tusks",
    "HOR": "horns",
    "TEE": "teeth",
    "CLA": "claws",
    "SHE": "shells",
    "CAP": "carapaces",
    "CAV": "caviar",
    "MEA": "meat",
    "DER": "derivatives",
    "LPS": "leather products (small)",
    "LPL": "leather products (large)",
    "GAR": "garments",
    "BON": "bones",
    "HAI": "hair",
    "SCA": "scales",
    "TIS": "tissue cultures",
    "OTH": "other",
}
#: Blank means "number of specimens"; old and new codes both accepted (§2.4 b).
UNITS = {
    "": "number of specimens",
    "NAR": "number of specimens",
    "KIL": "kilograms",
    "KGM": "kilograms",
    "GRM": "grams",
    "MGM": "milligrams",
    "LTR": "litres",
    "MLT": "millilitres",
    "MTR": "metres",
    "CTM": "centimetres",
    "SQM": "square metres",
    "MTK": "square metres",
    "PCS": "pieces",
    "SET": "sets",
    "PAI": "pairs",
}
#: Non-ISO codes the CITES Trade Database uses (§2.7).
EXTRA_COUNTRIES = {"XX": "Unknown", "ZZ": "Introduction from the sea"}


def country_name(code: str) -> str | None:
    if code in EXTRA_COUNTRIES:
        return EXTRA_COUNTRIES[code]
    found = pycountry.countries.get(alpha_2=code) if code and len(code) == 2 else None
    return found.name if found else None


def countries() -> list[tuple[str, str]]:
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda item: item[1])
