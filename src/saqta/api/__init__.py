"""The HTTP API of Saqta (FastAPI): online eligibility, in plain JSON and as FHIR R4.

Build the application with :func:`saqta.api.app.create_app`; ``saqta serve`` runs it with
uvicorn. The OpenAPI description is published at ``/openapi.json`` and browsable at ``/docs``.
"""
