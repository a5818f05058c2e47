"""The `slipway` sub-commands, one module per area; each has `register(subparsers, common)`."""
