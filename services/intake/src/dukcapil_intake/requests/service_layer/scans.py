"""What the use cases need to judge an uploaded scan: something that reads it for what it really is."""

import abc

from dukcapil_intake.requests.domain.scans import ScanLimits, ScanReport


class ScanInspector(abc.ABC):
    @abc.abstractmethod
    async def inspect(self, content: bytes, limits: ScanLimits) -> ScanReport:
        """Decode `content` as the PDF, JPEG or PNG its first bytes claim, within the limits (stopping before the
        work a file over them would cost), and report what it is."""
