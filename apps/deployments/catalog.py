"""The instance catalog: EC2 instance types Slipway can schedule on, with public prices.

On-demand prices are AWS's public Linux on-demand prices in us-east-1 as the authors knew
them (P4d/P5 after the June 2025 price reduction); spot prices are typical observed
us-east-1 averages — spot moves hourly, so treat them as estimates. Platform engineers
correct rows in the admin; the date travels with every row.
"""

from __future__ import annotations

PRICE_DATE = "2025-07-01"

# name, family, gpu model, gpus, gpu memory GiB (per GPU), vcpus, memory GiB, on-demand $/h, spot $/h
CATALOG = [
    ("g4dn.xlarge", "g4dn", "NVIDIA T4", 1, 16, 4, 16, "0.5260", "0.2104"),
    ("g4dn.2xlarge", "g4dn", "NVIDIA T4", 1, 16, 8, 32, "0.7520", "0.3008"),
    ("g4dn.12xlarge", "g4dn", "NVIDIA T4", 4, 16, 48, 192, "3.9120", "1.5648"),
    ("g5.xlarge", "g5", "NVIDIA A10G", 1, 24, 4, 16, "1.0060", "0.4024"),
    ("g5.2xlarge", "g5", "NVIDIA A10G", 1, 24, 8, 32, "1.2120", "0.4848"),
    ("g5.12xlarge", "g5", "NVIDIA A10G", 4, 24, 48, 192, "5.6720", "2.2688"),
    ("g5.48xlarge", "g5", "NVIDIA A10G", 8, 24, 192, 768, "16.2880", "6.5152"),
    ("g6.xlarge", "g6", "NVIDIA L4", 1, 24, 4, 16, "0.8048", "0.3219"),
    ("g6.12xlarge", "g6", "NVIDIA L4", 4, 24, 48, 192, "4.6016", "1.8406"),
    ("p3.2xlarge", "p3", "NVIDIA V100", 1, 16, 8, 61, "3.0600", "0.9180"),
    ("p3.8xlarge", "p3", "NVIDIA V100", 4, 16, 32, 244, "12.2400", "3.6720"),
    ("p4d.24xlarge", "p4d", "NVIDIA A100", 8, 40, 96, 1152, "21.9576", "8.7830"),
    ("p5.48xlarge", "p5", "NVIDIA H100", 8, 80, 192, 2048, "55.0400", "22.0160"),
    ("c6i.xlarge", "c6i", "", 0, 0, 4, 8, "0.1700", "0.0680"),
    ("c6i.2xlarge", "c6i", "", 0, 0, 8, 16, "0.3400", "0.1360"),
    ("m6i.xlarge", "m6i", "", 0, 0, 4, 16, "0.1920", "0.0768"),
    ("m6i.2xlarge", "m6i", "", 0, 0, 8, 32, "0.3840", "0.1536"),
]

ENVIRONMENTS = [
    # name, display, namespace pattern, requires approval, default soak, min soak, guard window, position
    ("staging", "Staging", "slipway-{tenant}-staging", False, 60, 30, 600, 10),
    ("production", "Production", "slipway-{tenant}", True, 300, 120, 3600, 20),
]
