"""What a locked-out sign-in sees (django-axes' AXES_LOCKOUT_CALLABLE).

The sign-in page again, for the site's and the admin's sign-in alike, saying
why the right password is refused now and when it will not be: a bare
"Forbidden" reads like a broken site.
"""

import math

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render


def locked_out(request, original_response=None, credentials=None):
    cooloff = settings.AXES_COOLOFF_TIME.total_seconds()
    context = {
        "form": AuthenticationForm(request),
        "locked_out": True,
        "cooloff_minutes": math.ceil(cooloff / 60),
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(math.ceil(cooloff))
    return response
