from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import Model
from registry.i18n import reader_locale

APPENDICES = ("I", "II", "III")


class NationalCategory(Model):
    """A Korean legal category layered on top of the CITES appendix (e.g. 지정관리 야생동물)."""

    __tablename__ = "national_category"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_ko: Mapped[str] = mapped_column(String(200))


class Species(Model):
    __tablename__ = "species"
    id: Mapped[int] = mapped_column(primary_key=True)
    scientific_name: Mapped[str] = mapped_column(String(200), unique=True)
    author: Mapped[str | None] = mapped_column(String(200))
    taxon_class: Mapped[str] = mapped_column(String(100))
    taxon_order: Mapped[str] = mapped_column(String(100))
    family: Mapped[str] = mapped_column(String(100))
    #: I, II or III: the appendix in force.
    appendix: Mapped[str] = mapped_column(String(8))
    annotation: Mapped[str | None] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(String(200))
    name_ko: Mapped[str | None] = mapped_column(String(200))
    national_category_code: Mapped[str | None] = mapped_column(ForeignKey("national_category.code"))
    #: Species+ TaxonId, when the row came from the official checklist.
    cites_taxon_id: Mapped[int | None] = mapped_column(unique=True)

    national_category: Mapped[NationalCategory | None] = relationship()

    def label(self, locale: str | None = None) -> str:
        """Scientific name and common name, the common name in *locale* (default: the reader's)."""
        locale = locale or reader_locale()
        common = (self.name_ko if locale == "ko" else self.name_en) or self.name_en or self.name_ko
        return f"{self.scientific_name} ({common})" if common else self.scientific_name

    def as_audit(self) -> dict:
        return {
            c: getattr(self, c)
            for c in (
                "scientific_name",
                "author",
                "taxon_class",
                "taxon_order",
                "family",
                "appendix",
                "annotation",
                "name_en",
                "name_ko",
                "national_category_code",
                "cites_taxon_id",
            )
        }


class DeadlineSetting(Model):
    """An administrator's choice of days for a deadline rule (registry.deadlines), where it differs."""

    __tablename__ = "deadline_setting"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    days: Mapped[int]
