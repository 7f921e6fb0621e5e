# One image for the three ledger processes (serve, relay, project).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LEDGER_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY consumers ./consumers
RUN pip install --no-cache-dir . && useradd --create-home ledger && mkdir /data \
    && chown ledger /data
USER ledger
VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["ledger"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
