"""The portal's forms: they bind and re-show what the citizen typed; the checks that
matter (the pin inside the city, photos, extra questions) live in the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from services.models import ServiceCategory

# The honeypot: hidden from people by CSS, filled in by form-filling bots.
HONEYPOT = "website"


def category_choices(categories: list[ServiceCategory]) -> list[Any]:
    """Categories grouped by field (optgroups), in the portal's order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for category in categories:
        groups.setdefault(category.group.name, []).append((category.code, category.name))
    return [("", _("Choose what it is about")), *groups.items()]


class FeedbackForm(forms.Form):
    """A citizen's feedback: what, where, optionally who (private)."""

    category = forms.ChoiceField(label=_("What is it about?"))
    description = forms.CharField(
        label=_("Describe the problem"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,  # the service says what is missing, in one place
        max_length=4000,
    )
    latitude = forms.CharField(label=_("Latitude"), required=False, max_length=20)
    longitude = forms.CharField(label=_("Longitude"), required=False, max_length=20)
    address = forms.CharField(label=_("Address or landmark"), required=False, max_length=250)
    reporter_name = forms.CharField(label=_("Your name"), required=False, max_length=120)
    reporter_phone = forms.CharField(label=_("Phone"), required=False, max_length=20)
    reporter_email = forms.CharField(label=_("Email"), required=False, max_length=254)
    website = forms.CharField(required=False)

    def __init__(self, *args: Any, categories: list[ServiceCategory], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.categories = {category.code: category for category in categories}
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = category_choices(categories)

    def coordinates(self) -> tuple[float, float] | None:
        """The pin as (latitude, longitude), or None when missing or not numbers."""
        try:
            lat = float(self.cleaned_data["latitude"].replace(",", "."))
            lon = float(self.cleaned_data["longitude"].replace(",", "."))
        except (KeyError, ValueError):
            return None
        return lat, lon


class RatingForm(forms.Form):
    """The citizen's 1–5 rating of the answer."""

    rating = forms.TypedChoiceField(
        label=_("Your rating"), choices=[(n, str(n)) for n in range(1, 6)], coerce=int
    )
    comment = forms.CharField(
        label=_("Comment (optional)"), required=False, max_length=1000, widget=forms.Textarea
    )


class DisputeForm(forms.Form):
    """Why the citizen is not satisfied with the resolution."""

    reason = forms.CharField(
        label=_("What is still wrong?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class SubjectKeyForm(forms.Form):
    """The reporter proves it is their request: the private link, or the key in it."""

    key = forms.CharField(label=_("Your private link"), max_length=500)

    def clean_key(self) -> str:
        """The key alone, from a pasted link (``…?key=<key>``) or the key itself."""
        from urllib.parse import parse_qs, urlsplit

        value = self.cleaned_data["key"].strip()
        if "key=" in value:
            found = parse_qs(urlsplit(value).query).get("key") or [""]
            value = found[0]
        return value


class SubjectEraseForm(forms.Form):
    """What the reporter asks to be erased, confirmed."""

    what = forms.ChoiceField(
        label=_("What to erase"),
        choices=[
            ("contact", _("My contact details")),
            ("contact_photos", _("My contact details and the photos I sent")),
        ],
        widget=forms.RadioSelect,
    )
    confirm = forms.BooleanField(
        label=_(
            "I understand: this cannot be undone, and I will no longer hear of this "
            "feedback's progress, rate it or dispute it."
        )
    )
