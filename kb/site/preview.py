"""Draft previews: staff see drafts on public pages with ?preview=1; readers never do."""

PREVIEW_PARAM = "preview"


def wants_preview(request):
    user = getattr(request, "user", None)
    return request.GET.get(PREVIEW_PARAM) == "1" and user is not None and user.is_active and user.is_staff
