"""How the first knowledge base's Flask and Django programs are driven when they run.

A Python snippet with an entry in ``CHECKS`` (by task slug and subject slug) runs
inside a driver: the subject's preamble (``DRIVER_PREAMBLES``) imports the program as
``app`` and makes the framework's test client, then the check's code asserts what the
program must do. Template snippets of the same task and subject named in ``files``
are written beside the program. Any other Python snippet runs as a script.

This is content-specific knowledge kept as code, apart from the engine
(``kb.evidence.snippet_runners``): another knowledge base adds its own entries or none.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    """How to run one task's program for one subject, and what to assert.

    ``code`` runs in the driver after ``import app``; it has ``app`` (the
    program module) and ``client`` (the framework's test client) in scope,
    and for Django also ``call_command`` and ``migrate()``. ``files`` maps a
    path relative to the program to the language of the snippet of the same
    task and subject that is written there (the program's templates).
    """

    code: str
    files: dict[str, str] = field(default_factory=dict)


CHECKS: dict[tuple[str, str], Check] = {
    ("hello-world", "flask"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200, response.status_code
        assert response.text == "Hello, World!", response.text
        """
    ),
    ("hello-world", "django"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200, response.status_code
        assert response.content == b"Hello, World!", response.content
        assert callable(app.application)
        """
    ),
    ("routing", "flask"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert "Hello, Flask!" in response.text, response.text
        assert 'href="/users/1"' in response.text, response.text
        response = client.get("/users/42")
        assert response.text == "User 42", response.text
        assert client.get("/users/abc").status_code == 404
        """
    ),
    ("routing", "django"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert b"Hello, Django!" in response.content, response.content
        assert b'href="/users/1/"' in response.content, response.content
        response = client.get("/users/42/")
        assert response.content == b"User 42", response.content
        assert client.get("/users/abc/").status_code == 404
        """
    ),
    ("render-template", "flask"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert "<title>Home</title>" in response.text, response.text
        assert "<h1>HOME</h1>" in response.text, response.text
        assert "<li>2. Django</li>" in response.text, response.text
        """,
        files={"templates/index.html": "html+jinja"},
    ),
    ("render-template", "django"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert [t.name for t in response.templates] == ["index.html"]
        html = response.content.decode()
        assert "<title>Home</title>" in html, html
        assert "<h1>HOME</h1>" in html, html
        assert "<li>2. Django</li>" in html, html
        """,
        files={"templates/index.html": "html+django"},
    ),
    ("define-model", "flask"): Check(
        """
        with app.app.app_context():
            app.db.session.add_all([app.User(name="Grace"), app.User(name="Ada")])
            app.db.session.commit()
            ada = app.db.session.scalars(app.db.select(app.User).filter_by(name="Ada")).one()
            assert ada.id is not None
        assert client.get("/users").json == ["Ada", "Grace"]
        """
    ),
    ("define-model", "django"): Check(
        """
        migrate()
        app.User.objects.create(name="Grace")
        app.User.objects.create(name="Ada")
        assert app.User.objects.get(name="Ada").pk is not None
        assert client.get("/users/").json() == ["Ada", "Grace"]
        """
    ),
    ("login-required", "flask"): Check(
        """
        response = client.get("/profile")
        assert response.status_code == 302, response.status_code
        assert response.location.startswith("/login?next="), response.location
        result = app.app.test_cli_runner().invoke(args=["create-user", "ada", "--password", "s3cret"])
        assert result.exit_code == 0, result.output
        response = client.post("/login", data={"username": "ada", "password": "wrong"})
        assert "Invalid username or password." in response.text
        response = client.post("/login", data={"username": "ada", "password": "s3cret"})
        assert response.status_code == 302 and response.location == "/profile", response.location
        assert client.get("/profile").text == "Hello, ada!"
        """
    ),
    ("login-required", "django"): Check(
        """
        migrate()
        response = client.get("/profile/")
        assert response.status_code == 302, response.status_code
        assert response.url == "/accounts/login/?next=/profile/", response.url
        assert client.get(response.url).status_code == 200
        from django.contrib.auth.models import User

        User.objects.create_user("ada", password="s3cret")
        response = client.post("/accounts/login/", {"username": "ada", "password": "s3cret"})
        assert response.status_code == 302 and response.url == "/profile/", response
        assert client.get("/profile/").content == b"Hello, ada!"
        """
    ),
    ("content-security-policy", "flask"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        assert 'name="post"' in response.text
        response = client.post("/", data={"post": "<script>alert(1)</script>"})
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        assert "<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>" in response.text, response.text
        """,
        files={"templates/post_feed.html": "html+jinja"},
    ),
    ("content-security-policy", "django"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        assert b'name="post"' in response.content
        assert b"csrfmiddlewaretoken" in response.content
        response = client.post("/", {"post": "<script>alert(1)</script>"})
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        assert b"<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>" in response.content, response.content
        from django.test import Client

        assert Client(enforce_csrf_checks=True).post("/", {"post": "x"}).status_code == 403
        """,
        files={"templates/post_feed.html": "html+django"},
    ),
    ("template-escaping", "flask"): Check(
        """
        hostile = {"name": "<script>alert(1)</script>", "css_class": "class1 onmouseover=javascript:func()"}
        html = client.get("/", query_string=hostile).text
        assert '<p class="class1 onmouseover=javascript:func()">' in html, html
        assert "Hello, &lt;script&gt;alert(1)&lt;/script&gt;!" in html, html
        html = client.get("/", query_string={"css_class": 'x" onmouseover="func()'}).text
        assert 'class="x&#34; onmouseover=&#34;func()"' in html, html
        """,
        files={"templates/greeting.html": "html+jinja"},
    ),
    ("template-escaping", "django"): Check(
        """
        hostile = {"name": "<script>alert(1)</script>", "css_class": "class1 onmouseover=javascript:func()"}
        html = client.get("/", hostile).content.decode()
        assert '<p class="class1 onmouseover=javascript:func()">' in html, html
        assert "Hello, &lt;script&gt;alert(1)&lt;/script&gt;!" in html, html
        html = client.get("/", {"css_class": 'x" onmouseover="func()'}).content.decode()
        assert 'class="x&quot; onmouseover=&quot;func()"' in html, html
        """,
        files={"templates/greeting.html": "html+django"},
    ),
    ("form-validation", "flask"): Check(
        """
        import re

        html = client.get("/").text
        assert 'name="guests"' in html, html
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        for data in ({"name": "", "guests": "2"}, {"name": "Ada", "guests": "11"}, {"name": "Ada", "guests": "x"}):
            response = client.post("/", data={**data, "csrf_token": token})
            assert response.status_code == 200, (data, response.status_code)
            assert 'class="error"' in response.text, (data, response.text)
        response = client.post("/", data={"name": "Ada", "guests": "2"})
        assert response.status_code == 200, "a POST without the CSRF token is rejected"
        assert "The CSRF token is missing." in response.text, response.text
        response = client.post("/", data={"name": "Ada", "guests": "2", "csrf_token": token})
        assert response.status_code == 302 and response.location == "/thanks", response.location
        """,
        files={"templates/rsvp.html": "html+jinja"},
    ),
    ("form-validation", "django"): Check(
        """
        assert b'name="guests"' in client.get("/").content
        for data in ({"name": "", "guests": "2"}, {"name": "Ada", "guests": "11"}, {"name": "Ada", "guests": "x"}):
            response = client.post("/", data)
            assert response.status_code == 200, (data, response.status_code)
            assert response.context["form"].errors, data
            assert b'class="errorlist"' in response.content, response.content
        response = client.post("/", {"name": "Ada", "guests": "2"})
        assert response.status_code == 302 and response.url == "/thanks/", response
        """,
        files={"templates/rsvp.html": "html+django"},
    ),
    ("admin-interface", "flask"): Check(
        """
        response = client.get("/admin/post/")
        assert response.status_code == 200, response.status_code
        response = client.post("/admin/post/new/", data={"title": "First post", "body": "", "published": "y"})
        assert response.status_code == 302, (response.status_code, response.text)
        with app.app.app_context():
            post = app.db.session.scalars(app.db.select(app.Post)).one()
            assert post.title == "First post" and post.published
        assert "First post" in client.get("/admin/post/").text
        """
    ),
    ("admin-interface", "django"): Check(
        """
        migrate()
        response = client.get("/admin/blog/post/")
        assert response.status_code == 302 and response.url.startswith("/admin/login/"), response
        from django.contrib.auth.models import User

        client.force_login(User.objects.create_superuser("admin", "admin@example.com", "s3cret"))
        response = client.post("/admin/blog/post/add/", {"title": "First post", "body": "", "published": "on"})
        assert response.status_code == 302, response.status_code
        post = app.Post.objects.get()
        assert post.title == "First post" and post.published
        response = client.get("/admin/blog/post/")
        assert response.status_code == 200 and b"First post" in response.content
        """
    ),
    ("json-api", "flask"): Check(
        """
        response = client.get("/api/books")
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.json == [{"id": 1, "title": "Flask Web Development"}]
        response = client.post("/api/books", json={"title": "Django for Beginners"})
        assert response.status_code == 201 and response.json == {"id": 2, "title": "Django for Beginners"}
        assert client.get("/api/books/2").json["title"] == "Django for Beginners"
        assert client.get("/api/books/9").status_code == 404
        assert client.get("/api/books/9").json == {"error": "not found"}
        for body in ({}, {"title": ""}, [1]):
            assert client.post("/api/books", json=body).status_code == 400, body
        assert client.post("/api/books", data="{", content_type="application/json").status_code == 400
        """
    ),
    ("json-api", "django"): Check(
        """
        response = client.get("/api/books/")
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        assert response.json() == [{"id": 1, "title": "Django for Beginners"}]
        response = client.post("/api/books/", {"title": "Flask Web Development"}, content_type="application/json")
        assert response.status_code == 201 and response.json() == {"id": 2, "title": "Flask Web Development"}
        assert client.get("/api/books/2/").json()["title"] == "Flask Web Development"
        assert client.get("/api/books/9/").status_code == 404
        assert client.get("/api/books/9/").json() == {"error": "not found"}
        for body in ({}, {"title": ""}, [1], "{"):
            response = client.post("/api/books/", body, content_type="application/json")
            assert response.status_code == 400, body
        assert client.delete("/api/books/").status_code == 405
        """
    ),
}


DRIVER_PREAMBLES = {
    "flask": """
        import app

        client = app.app.test_client()
    """,
    "django": """
        import app
        from django.core.management import call_command
        from django.test import Client
        from django.test.utils import setup_test_environment

        setup_test_environment()
        call_command("check", fail_level="WARNING")
        client = Client()


        def migrate():
            call_command("migrate", run_syncdb=True, verbosity=0)
    """,
}
