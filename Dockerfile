FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY scheduler_project ./scheduler_project
COPY businesses ./businesses
COPY schedules ./schedules
COPY retry ./retry
COPY webhooks ./webhooks
COPY access ./access
COPY monitoring ./monitoring
COPY notifications ./notifications
COPY dashboard ./dashboard
COPY apify_sandbox ./apify_sandbox
COPY manage.py ./
RUN pip install --no-cache-dir .
RUN useradd --create-home scheduler
USER scheduler
EXPOSE 8000
CMD ["gunicorn", "scheduler_project.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
