"""Test cases and assertions of a preset (models layer: apps/presets exports
them, apps/evals runs them). A preset is named by its string reference only,
never imported: presets sit above this layer."""
