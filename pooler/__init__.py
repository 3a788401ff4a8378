"""The pooler: reads best bid/ask from Backpack Exchange (or its local fake, or a seeded simulation),
normalises them to the platform's integer quotes with the spread applied, and publishes the latest fresh
quote of every asset on the Redis stream (as a `Command{price_update}`) and the pub/sub channel."""
