"""``imagejobs emulator``: serve the Gemini-compatible emulator until interrupted."""

from __future__ import annotations

import typer
import uvicorn

from imagejobs.emulator.background import uvicorn_config
from imagejobs.emulator.config import EmulatorConfig, Faults
from imagejobs.emulator.quota import QuotaLimits, parse_limit_flags
from imagejobs.emulator.server import create_app


def emulator_command(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8765, help="TCP port to listen on."),
    latency: float = typer.Option(0.0, help="Fixed latency of generate calls, seconds."),
    jitter: float = typer.Option(0.0, help="Extra random latency, 0..JITTER seconds."),
    rate_429: float = typer.Option(0.0, "--rate-429", help="Fraction of generate calls -> 429."),
    retry_delay: float = typer.Option(1.0, help="RetryInfo retryDelay of 429s, seconds."),
    rate_500: float = typer.Option(0.0, "--rate-500", help="Fraction of generate calls -> 500."),
    rate_503: float = typer.Option(0.0, "--rate-503", help="Fraction of generate calls -> 503."),
    processing_delay: float = typer.Option(0.0, help="Seconds an upload stays PROCESSING."),
    upload_failure_rate: float = typer.Option(0.0, help="Fraction of uploads that fail (503)."),
    file_stuck_processing: bool = typer.Option(False, help="Uploads never leave PROCESSING."),
    file_failed_rate: float = typer.Option(0.0, help="Fraction of uploads that end FAILED."),
    seg_token_rate: float = typer.Option(
        0.0, help="Fraction of 2.5 segmentation answers given as <seg_N> tokens."
    ),
    inline_limit_bytes: int = typer.Option(20_000_000, help="Largest request body accepted."),
    max_images: int = typer.Option(3600, help="Most images accepted in one request."),
    api_key: str = typer.Option("", help="Only accept this key (default: any non-empty key)."),
    rpm: list[str] = typer.Option(
        [], help="Requests per minute per project: N for every model, or MODEL=N (repeatable)."
    ),
    tpm: list[str] = typer.Option(
        [], help="Input tokens per minute per project: N or MODEL=N (repeatable)."
    ),
    rpd: list[str] = typer.Option(
        [], help="Requests per day per project (Pacific day): N or MODEL=N (repeatable)."
    ),
    quota_tier: str = typer.Option("free", help="Quota names in 429s: free or paid."),
    seed: int = typer.Option(0, help="Seed of the fault dice."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Run the local Gemini-compatible emulator (point google-genai's base_url at it)."""
    try:
        faults = Faults().updated(
            {
                "latency_s": latency,
                "jitter_s": jitter,
                "rate_429": rate_429,
                "retry_delay_s": retry_delay,
                "rate_500": rate_500,
                "rate_503": rate_503,
                "processing_delay_s": processing_delay,
                "upload_failure_rate": upload_failure_rate,
                "file_stuck_processing": file_stuck_processing,
                "file_failed_rate": file_failed_rate,
                "seg_token_rate": seg_token_rate,
                "seed": seed,
            }
        )
        config = EmulatorConfig(
            inline_limit_bytes=inline_limit_bytes,
            max_images=max_images,
            processing_delay_s=processing_delay,
            api_key=api_key or None,
            faults=faults,
            quotas=QuotaLimits(
                rpm=parse_limit_flags("rpm", rpm),
                tpm=parse_limit_flags("tpm", tpm),
                rpd=parse_limit_flags("rpd", rpd),
                tier=quota_tier,
            ),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"Gemini emulator on http://{host}:{port} (control: /_emulator/)", err=True)
    uvicorn.Server(uvicorn_config(create_app(config), host, port, log_level)).run()
