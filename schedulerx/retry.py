"""Retry policies stored on each publication: none / fixed / linear / exponential."""
from __future__ import annotations

from dataclasses import dataclass

STRATEGIES = ("none", "fixed", "linear", "exponential")
DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class RetryPolicy:
    strategy: str = "exponential"
    base_delay: float = 60.0
    max_delay: float = 3600.0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def __post_init__(self):
        from .errors import ValidationError
        if self.strategy not in STRATEGIES:
            raise ValidationError(f"retry strategy must be one of {', '.join(STRATEGIES)}",
                                  field="retry_strategy")
        if not 1 <= self.max_attempts <= 100:
            raise ValidationError("max_attempts must be between 1 and 100", field="max_attempts")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValidationError("need 0 <= base_delay <= max_delay", field="retry_base")

    def delay(self, attempt: int) -> float | None:
        """Seconds to wait after failed try number ``attempt`` (1-based); None: no retry."""
        if self.strategy == "none" or attempt >= self.max_attempts:
            return None
        if self.strategy == "fixed":
            d = self.base_delay
        elif self.strategy == "linear":
            d = self.base_delay * attempt
        else:
            d = self.base_delay * 2 ** (attempt - 1)
        return min(d, self.max_delay)

    @classmethod
    def of(cls, pub) -> "RetryPolicy":
        return cls(pub.retry_strategy, pub.retry_base, pub.retry_max, pub.max_attempts)

    def as_fields(self) -> dict:
        return dict(retry_strategy=self.strategy, retry_base=self.base_delay,
                    retry_max=self.max_delay, max_attempts=self.max_attempts)
