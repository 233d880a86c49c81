import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_project.settings")
application = get_wsgi_application()

from scheduler_project.production import refuse_unsafe_production  # noqa: E402 (needs setup)

refuse_unsafe_production("web server")
