"""The regional environmental offices that issue CITES documents on the Management Authority's behalf.

Korea's Management Authority is the Ministry; the Enforcement Decree (Art. 39(2)) delegates the
permits to the heads of the river-basin and regional environmental offices, so box 6 names the
office that issued a document, under the Ministry (cites-standards.md §7; peers-and-korean-law.md).
Addresses are given to the city: the street address is the deployment's to configure
(``OFFICE_ADDRESSES``), never guessed here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Office:
    code: str
    name_en: str
    name_ko: str
    #: City and province, English and Korean.
    city_en: str
    city_ko: str
    #: The provinces and metropolitan cities it serves, where the country profile lists them.
    regions: tuple[str, ...] = ()


OFFICES: dict[str, Office] = {
    office.code: office
    for office in (
        Office(
            "han-river",
            "Han River Basin Environmental Office",
            "한강유역환경청",
            "Hanam, Gyeonggi-do",
            "경기도 하남시",
            ("Seoul", "Incheon", "Gyeonggi"),
        ),
        Office(
            "geum-river",
            "Geum River Basin Environmental Office",
            "금강유역환경청",
            "Daejeon",
            "대전광역시",
            ("Daejeon", "Sejong", "Chungbuk", "Chungnam"),
        ),
        Office(
            "nakdong-river",
            "Nakdong River Basin Environmental Office",
            "낙동강유역환경청",
            "Changwon, Gyeongsangnam-do",
            "경상남도 창원시",
        ),
        Office(
            "yeongsan-river",
            "Yeongsan River Basin Environmental Office",
            "영산강유역환경청",
            "Gwangju",
            "광주광역시",
        ),
        Office(
            "wonju",
            "Wonju Regional Environmental Office",
            "원주지방환경청",
            "Wonju, Gangwon",
            "강원특별자치도 원주시",
            ("Gangwon",),
        ),
        Office("daegu", "Daegu Regional Environmental Office", "대구지방환경청", "Daegu", "대구광역시"),
        Office(
            "jeonbuk",
            "Jeonbuk Regional Environmental Office",
            "전북지방환경청",
            "Jeonju, Jeonbuk",
            "전북특별자치도 전주시",
        ),
    )
}


def get(code: str | None) -> Office | None:
    return OFFICES.get(code) if code else None


def refusal(code: str | None) -> str | None:
    """Why *code* is not an office's code (None or empty: no office, allowed), or None."""
    from registry.i18n import _

    if code and code not in OFFICES:
        return _("one of %(values)s", values=", ".join(OFFICES))
    return None


def choices() -> list[tuple[str, str]]:
    return [(office.code, f"{office.name_en} ({office.name_ko})") for office in OFFICES.values()]
