import marshmallow as ma
from flask import Response, jsonify
from marshmallow import validate

from registry.services import reports
from registry.views.api.common import api_blueprint, require
from registry.views.api.schemas import Strict
from registry.views.helpers import require_actor

blp = api_blueprint("api_reports", "The CITES annual report")


class AnnualQuery(Strict):
    direction = ma.fields.String(load_default="export", validate=validate.OneOf(("export", "import")))
    format = ma.fields.String(
        load_default="csv",
        validate=validate.OneOf(("csv", "json")),
        metadata={
            "description": "csv: the Trade Database upload file (422 with the errors while a row would be "
            "rejected); json: rows and findings"
        },
    )


@blp.get("/reports/annual/<int(min=1975, max=9999):year>")
@blp.arguments(AnnualQuery, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "OK",
            "content": {
                "text/csv": {
                    "schema": {"type": "string", "description": "the upload file, headers exactly as required"}
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "rows": {"type": "array", "items": {"type": "object"}},
                            "findings": {"type": "array", "items": {"type": "object"}},
                        },
                    }
                },
            },
        }
    }
)
def annual(args, year: int):
    """The export or import report for a year, from the quantities endorsed at the border."""
    require("report.annual")
    if args["format"] == "csv":
        made = reports.submission(require_actor(), year, args["direction"])
        return Response(
            made.text,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
        )
    found = reports.rows(require_actor(), year, args["direction"])
    columns = reports.header(args["direction"])
    return jsonify(
        {
            "columns": columns,
            "rows": [{c: r[c] for c in columns} for r in found],
            "findings": [{"row": f.row, "level": f.level, "message": f.message} for f in reports.check(found)],
        }
    )
