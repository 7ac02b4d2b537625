"""The forge: manipulated counterparts of real face videos with exact masks.

One module per manipulation method (faceswap, reenact, lipsync, selfblend), shared
geometry in ``geometry``, the FF++-layout writer in ``corpus`` and the command in ``cli``.
Each method is tagged identity-replaced or identity-remained (ForgeryNet's taxonomy).
"""
