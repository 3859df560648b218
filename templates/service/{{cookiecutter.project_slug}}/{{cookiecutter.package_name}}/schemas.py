"""Request, response and settings schemas."""

from marshmallow import Schema, fields, validate

from {{ cookiecutter.package_name }}.greetings import LANGUAGES


class AppSettingsSchema(Schema):
    """The `app:` section of config.yml."""

    default_language = fields.String(
        load_default="en", validate=validate.OneOf(LANGUAGES, error="must be one of: {choices}")
    )
    min_free_mb = fields.Integer(
        load_default=16, strict=True, validate=validate.Range(min=0, error="must be >= {min}")
    )


class GreetingRequestSchema(Schema):
    """Body of POST /v1/greetings."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))


class GreetingSchema(Schema):
    """A greeting, as every greeting endpoint returns it."""

    greeting = fields.String(required=True)
    language = fields.String(required=True)
