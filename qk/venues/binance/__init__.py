"""Binance (spot and USD-M futures) adapter.

Today: market-data normalisation (:mod:`qk.venues.binance.parse`): trade and aggTrade stream
messages into TradeEvent records, depth snapshots and diff events into the order book's inputs.
"""
