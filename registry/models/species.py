from datetime import date

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
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

    #: When the Convention first applied to the species (its first listing): a pre-Convention
    #: certificate covers specimens acquired before it (Art. VII.2).
    listed_on: Mapped[date | None]
    #: Appendix III: the States that listed the species (ISO codes, space separated).
    listing_countries: Mapped[str | None] = mapped_column(String(200))
    #: Where the species occurs in the wild (ISO codes, space separated): the Trade Database warns
    #: when a wild-taken specimen's origin is outside it.
    distribution: Mapped[str | None] = mapped_column(Text)

    national_category: Mapped[NationalCategory | None] = relationship()
    #: Split listings: populations listed in another appendix than the species' own.
    populations: Mapped[list["SpeciesPopulation"]] = relationship(
        back_populates="species", order_by="SpeciesPopulation.id", cascade="all, delete-orphan"
    )

    def appendix_for(self, country: str | None) -> str:
        """The appendix of the population of *country* (the specimen's origin), or the species' own."""
        for population in self.populations:
            if country and country in population.countries.split():
                return population.appendix
        return self.appendix

    def listed_by(self, country: str) -> bool:
        """Whether *country* is one of the States that listed this Appendix III species."""
        return country in (self.listing_countries or "").split()

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
                "listed_on",
                "listing_countries",
                "distribution",
            )
        } | {"populations": [(p.countries, p.appendix) for p in self.populations]}


class SpeciesPopulation(Model):
    """A population listed apart from the rest of its species (e.g. Loxodonta africana: Appendix I,
    except the populations of Botswana, Namibia, South Africa and Zimbabwe, in Appendix II)."""

    __tablename__ = "species_population"
    __table_args__ = (UniqueConstraint("species_id", "countries"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    species_id: Mapped[int] = mapped_column(ForeignKey("species.id"), index=True)
    #: The countries whose populations this listing covers (ISO codes, space separated).
    countries: Mapped[str] = mapped_column(String(200))
    appendix: Mapped[str] = mapped_column(String(8))

    species: Mapped[Species] = relationship(back_populates="populations")


class DeadlineSetting(Model):
    """An administrator's choice of days for a deadline rule (registry.deadlines), where it differs."""

    __tablename__ = "deadline_setting"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    days: Mapped[int]
