"""Setup screen: dataset facts, toggles, validation at the field, presets, model summary."""

from __future__ import annotations

import tomllib

from fake_engine import SIZE, FakeEngine, wait_for
from textual.widgets import Checkbox, Input, Select, Static

from cnn_tui.tui.dialogs.presets import LoadPresetDialog, SavePresetDialog
from cnn_tui.tui.setup import SetupScreen
from cnn_tui.tui.widgets.model_summary import ModelSummaryView


def _ready(app) -> bool:
    setup = app.setup_screen
    return setup.preset_name == "digits-quick" and "digits" in setup.infos and setup.config is not None


async def test_first_screen_shows_preset_dataset_facts_and_shape_plan(make_app):
    app = make_app()
    async with app.run_test(size=SIZE):
        assert isinstance(app.screen, SetupScreen)
        assert await wait_for(lambda: _ready(app))
        setup = app.setup_screen
        assert await wait_for(lambda: setup.query_one(ModelSummaryView).state == "plan")
        facts = str(setup.query_one("#dataset-facts").content)
        assert "8x8x1" in facts and "10 classes" in facts and "available offline" in facts
        assert "train" in facts and "test" in facts and "source:" in facts
        assert "Quick start" in str(setup.query_one("#preset-description").content)
        summary = setup.query_one(ModelSummaryView)
        assert summary.rows[0][2] == "8x8x1"  # the input row, then one row per block
        assert len(summary.rows) > 3


async def test_footer_names_the_preset_f5_trains(make_app):
    app = make_app()
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: _ready(app))
        bindings = app.screen.active_bindings
        assert bindings["f5"].binding.description == "Train digits-quick"
        assert "x" not in bindings and "p" not in bindings  # stop/pause only while a run goes on


async def _set_toggle(app, key: str, on: bool, text: str | None = None) -> None:
    field = app.setup_screen.field(key)
    field.switch.value = on
    if text is not None:
        await wait_for(lambda: not field.control.disabled)
        field.control.value = text


async def test_toggles_reach_the_engine_config(make_app):
    engine = FakeEngine(step_delay=0.0)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        setup = app.setup_screen
        setup.field("model.batch_norm").control.value = True
        await _set_toggle(app, "model.dropout", True, "0.3")
        await _set_toggle(app, "data.augment.shift", True)
        setup.field("train.optimizer").control.value = "sgd"
        setup.field("data.normalization").control.value = "standardize"
        setup.field("train.early_stopping.enabled").control.value = True
        setup.field("train.epochs").control.value = "2"
        await pilot.pause()
        await pilot.press("f5")
        assert await wait_for(lambda: engine.calls and app.session.monitor and not app.training_active)
        config = engine.calls[0]["config"]
        assert config.model.batch_norm is True
        assert config.model.dropout == 0.3
        assert config.data.augment.shift == 0.1  # the default strength when switched on
        assert config.train.optimizer == "sgd"
        assert config.data.normalization == "standardize"
        assert config.train.early_stopping.enabled is True
        assert config.train.epochs == 2
        assert engine.calls[0]["name"] == "digits-quick"


async def _save_dialog(app) -> SavePresetDialog:
    """The Save preset dialog once its widgets exist and its Save button is laid out (a
    click on a widget with no region yet misses)."""
    assert await wait_for(lambda: isinstance(app.screen, SavePresetDialog) and app.screen.is_mounted)
    dialog = app.screen
    assert await wait_for(lambda: dialog.query_one("#save").region.area > 0)
    return dialog


def _shown_error(field) -> str:
    """The reason drawn under a field's controls (the lines after its label)."""
    return " ".join(str(field.render()).splitlines()[1:])


async def test_bad_dropout_is_flagged_at_the_field_and_training_refused(make_app):
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        await _set_toggle(app, "model.dropout", True, "1.5")
        field = app.setup_screen.field("model.dropout")
        assert await wait_for(lambda: field.has_class("-invalid"))
        assert "less than 1" in _shown_error(field)
        # the row grows a line for the reason (at the next layout pass: wait for it)
        assert await wait_for(lambda: field.region.height == 2), field.region
        await pilot.press("f5")
        assert await wait_for(lambda: any("model.dropout" in n.message for n in app._notifications))
        assert engine.calls == []
        assert not app.training_active
        assert isinstance(app.screen, SetupScreen)
        assert "Fix 1 field" in str(app.setup_screen.query_one("#setup-status").content)


async def test_bad_learning_rate_typed_by_keys_is_refused(make_app):
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        lr = app.setup_screen.field("train.learning_rate")
        lr.control.focus()
        await pilot.pause()
        lr.control.action_end()
        for _ in range(len(lr.control.value)):
            await pilot.press("backspace")
        await pilot.press("minus", "1")
        assert lr.control.value == "-1"
        # (after "-" alone the field is flagged too, with another reason: wait for this one)
        assert await wait_for(lambda: "greater than 0" in _shown_error(lr))
        assert lr.has_class("-invalid")
        await pilot.press("f5")
        assert await wait_for(lambda: any("train.learning_rate" in n.message for n in app._notifications))
        assert engine.calls == []
        # fixing it clears the flag
        lr.control.value = "0.01"
        assert await wait_for(lambda: not lr.has_class("-invalid"))


async def test_text_in_a_number_field_is_refused(make_app):
    app = make_app()
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: _ready(app))
        epochs = app.setup_screen.field("train.epochs")
        epochs.control.value = "many"
        assert await wait_for(lambda: epochs.has_class("-invalid"))
        assert "integer" in epochs.error
        config, errors = app.setup_screen.build_config()
        assert config is None and "train.epochs" in errors


async def test_save_preset_writes_toml_to_user_dir(make_app, presets_dir):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        app.setup_screen.field("model.batch_norm").control.value = True
        await pilot.pause()
        await pilot.press("ctrl+s")
        dialog = await _save_dialog(app)
        dialog.query_one("#preset-name", Input).value = "my-bn"
        dialog.query_one("#preset-description", Input).value = "digits with batch norm"
        assert await pilot.click("#save")
        assert await wait_for(lambda: (presets_dir / "my-bn.toml").exists())
        data = tomllib.loads((presets_dir / "my-bn.toml").read_text())
        assert data["model"]["batch_norm"] is True
        assert data["description"] == "digits with batch norm"
        assert await wait_for(lambda: app.setup_screen.preset_name == "my-bn")
        assert await wait_for(lambda: app.screen.active_bindings["f5"].binding.description == "Train my-bn")


async def test_save_preset_refuses_builtin_name_with_notification(make_app, presets_dir):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        await pilot.press("ctrl+s")
        dialog = await _save_dialog(app)
        dialog.query_one("#preset-name", Input).value = "digits-quick"
        assert await pilot.click("#save")
        assert await wait_for(lambda: any(n.severity == "error" for n in app._notifications))
        assert not (presets_dir / "digits-quick.toml").exists()
        assert app.screen is dialog  # still open, to pick another name
        assert "built-in" in str(dialog.query_one("#preset-error", Static).content)


async def test_save_preset_bad_name_keeps_the_dialog_and_what_was_typed(make_app, presets_dir):
    """An invalid name closed the dialog (what was typed lost) with the CLI's '--set: name = ...'
    wording; the dialog now stays open with the typed values and the store's reason."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        await pilot.press("ctrl+s")
        dialog = await _save_dialog(app)
        dialog.query_one("#preset-name", Input).value = "My Preset!"
        dialog.query_one("#preset-description", Input).value = "typed with care"
        assert await pilot.click("#save")
        error = dialog.query_one("#preset-error", Static)
        assert await wait_for(lambda: "My Preset!" in str(error.content))
        assert app.screen is dialog
        assert dialog.query_one("#preset-name", Input).value == "My Preset!"
        assert dialog.query_one("#preset-description", Input).value == "typed with care"
        assert "--set" not in str(error.content) and "preset name" in str(error.content)
        assert any(n.severity == "error" and "--set" not in n.message for n in app._notifications)
        name = dialog.query_one("#preset-name", Input)
        name.value = "my-preset"
        name.focus()  # enter in the name saves (a click could land on the error toast)
        assert await wait_for(lambda: name.has_focus)
        await pilot.press("enter")
        assert await wait_for(lambda: (presets_dir / "my-preset.toml").exists())
        assert tomllib.loads((presets_dir / "my-preset.toml").read_text())["description"] == "typed with care"


async def test_save_preset_proposes_a_description_of_what_changed(make_app):
    """A preset saved from changed settings kept the source preset's description (a fashion_mnist
    preset at lr 1e-3 still said 'CIFAR-10 ... Adam 1e-4'): the proposal names the changes."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        source = app.setup_screen.base.description
        await pilot.press("ctrl+s")
        dialog = await _save_dialog(app)
        assert dialog.query_one("#preset-description", Input).value == source  # nothing changed yet
        await pilot.press("escape")
        assert await wait_for(lambda: isinstance(app.screen, SetupScreen))
        app.setup_screen.field("model.batch_norm").control.value = True
        assert await wait_for(lambda: (c := app.setup_screen.build_config()[0]) is not None and c.model.batch_norm)
        await pilot.press("ctrl+s")
        dialog = await _save_dialog(app)
        proposed = dialog.query_one("#preset-description", Input).value
        assert proposed != source and "digits-quick" in proposed and "model.batch_norm=True" in proposed


async def test_load_preset_dialog_and_preset_select(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        setup = app.setup_screen
        names = [p.name for p in setup.presets]
        other = next(n for n in names if n != "digits-quick")
        await pilot.press("ctrl+o")
        assert await wait_for(lambda: isinstance(app.screen, LoadPresetDialog))
        app.screen.dismiss(other)
        assert await wait_for(lambda: setup.preset_name == other)
        assert setup.query_one("#preset-select", Select).value == other
        # and back through the select on the screen
        setup.query_one("#preset-select", Select).value = "digits-quick"
        assert await wait_for(lambda: setup.preset_name == "digits-quick")
        assert setup.field("train.epochs").control.value == str(setup.base.train.epochs)


async def test_custom_dataset_spec_and_bad_folder(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: _ready(app))
        setup = app.setup_screen
        setup.query_one("#dataset-select", Select).value = "other (folder:PATH / arrays:PATH)"
        custom = setup.query_one("#dataset-custom", Input)
        assert await wait_for(lambda: custom.display)
        custom.value = f"folder:{tmp_path / 'nope'}"
        facts = setup.query_one("#dataset-facts")
        assert await wait_for(lambda: "no such folder" in str(facts.content), timeout=10)
        assert "not available offline" in str(facts.content)
        assert "No summary" in str(setup.query_one("#summary-caption").content)


async def test_architecture_too_deep_is_reported_and_refused(make_app):
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        arch = app.setup_screen.field("model.architecture")
        assert await wait_for(lambda: len(arch.choices) > 2)
        deep = next((c for c in arch.choices if "vgg" in c), None)
        assert deep is not None, arch.choices
        arch.control.value = deep  # 5 pooling blocks cannot fit an 8x8 digit
        assert await wait_for(lambda: app.setup_screen.plan_error is not None)
        assert app.setup_screen.query_one(ModelSummaryView).state == "error"
        await pilot.press("f5")
        assert await wait_for(
            lambda: any(n.severity == "error" and n.title == "Not training" for n in app._notifications)
        )
        assert engine.calls == []


async def test_keras_summary_replaces_the_plan_and_follows_batch_norm(make_app):
    app = make_app(keras_summary=True)
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: _ready(app))
        view = app.setup_screen.query_one(ModelSummaryView)
        assert await wait_for(lambda: view.state == "keras", timeout=90)
        assert view.total_params and view.total_params > 1000
        assert not any(r[1] == "BatchNormalization" for r in view.rows)
        app.setup_screen.field("model.batch_norm").query_one(Checkbox).value = True
        assert await wait_for(lambda: any(r[1] == "BatchNormalization" for r in view.rows), timeout=60)
        assert view.state == "keras"


async def test_summary_out_of_the_dom_ignores_late_facts(make_app):
    """Facts that arrive while the app closes (q at start-up, a busy CI host) reached a
    ModelSummaryView already out of the DOM, whose first table mount raised MountError."""
    app = make_app()
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: _ready(app))
        view = app.setup_screen.query_one(ModelSummaryView)
        await view.remove()
        assert not view.is_attached
        view.show_plan([], (8, 8, 1), "late")  # the table's first mount: no MountError
        view.set_note("later")
        view.show_message("gone")
        assert view.rows == [] and view.state == "empty"
    fresh = ModelSummaryView()  # never mounted
    fresh.show_plan([], (8, 8, 1), "")
    assert fresh.state == "plan" and fresh.rows == [("input", "", "8x8x1", "")]


async def test_revalidate_with_the_summary_out_of_the_dom(make_app):
    """A validation due after the summary left the DOM (its 0.15 s timer firing while the app
    closes, or after the test above removed it) skips the summary: it raised NoMatches, which
    made that test fail whenever the dataset facts came before the timer."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        setup = app.setup_screen
        await setup.query_one(ModelSummaryView).remove()
        setup.revalidate()
        setup.schedule_validate()
        await pilot.pause(0.3)
        assert setup.config is not None and "F5" in str(setup.query_one("#setup-status").content)


async def test_every_preset_round_trips_through_the_form(make_app):
    """Loading a preset and reading the form back gives the preset's own config."""
    app = make_app()
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: _ready(app))
        setup = app.setup_screen
        assert len(setup.presets) >= 5
        for preset in setup.presets:
            assert setup.load_preset(preset.name)
            config, errors = setup.build_config()
            assert errors == {}, (preset.name, errors)
            assert config == setup.base, preset.name


async def test_keras_summary_of_a_zero_center_or_standardize_config(make_app):
    """The summary builds the model with stand-in channel statistics (the training split is not
    loaded on Setup): zero_center/standardize configs (lecture-vgg-*) showed "needs channel
    statistics of the training split (got none)" instead of the summary, though they train."""
    app = make_app(keras_summary=True)
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: _ready(app))
        view = app.setup_screen.query_one(ModelSummaryView)
        assert await wait_for(lambda: view.state == "keras", timeout=90)
        for mode in ("zero_center", "standardize"):
            app.setup_screen.field("data.normalization").query_one(Select).value = mode
            assert await wait_for(lambda: any(r[1] == "Normalization" for r in view.rows) or view.state == "error",
                                  timeout=60)
            assert view.state == "keras", view.rows
            app.setup_screen.field("data.normalization").query_one(Select).value = "rescale"
            assert await wait_for(lambda: not any(r[1] == "Normalization" for r in view.rows) and view.state == "keras",
                                  timeout=60)


async def test_image_size_takes_one_number_for_a_square(make_app):
    """The Input section's image size: empty is the dataset's own size, one number a square
    (the seeds' 32x32, 256x256), [h, w] anything else; the shape plan follows."""
    app = make_app()
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: _ready(app))
        setup = app.setup_screen
        field = setup.field("data.image_size")
        assert field.control.value == "" and setup.config.data.image_size is None  # digits-quick: 8x8 as is
        field.control.value = "32"
        assert await wait_for(lambda: setup.config is not None and setup.config.data.image_size == (32, 32))
        summary = setup.query_one(ModelSummaryView)
        assert await wait_for(lambda: summary.rows and summary.rows[0][2] == "32x32x1"), summary.rows
        field.control.value = "[24, 40]"
        assert await wait_for(lambda: setup.config is not None and setup.config.data.image_size == (24, 40))
        field.control.value = "big"
        assert await wait_for(lambda: field.has_class("-invalid") and "one number for a square" in (field.error or ""))
        field.control.value = ""
        assert await wait_for(lambda: setup.config is not None and setup.config.data.image_size is None)
        assert not field.has_class("-invalid")
        assert setup.load_preset("weather-model1")  # image_size = [256, 256]
        assert field.control.value == "256"
        config, errors = setup.build_config()
        assert errors == {} and config.data.image_size == (256, 256)


async def test_every_config_key_is_settable_in_the_form(make_app):
    """The form had no train/test limit, validation split, split seed, labels-from, run seed...:
    every key ``--set`` takes is a field now (the Advanced ones mounted when shown)."""
    from cnn_tui.core.config import field_docs
    from cnn_tui.tui.widgets.config_fields import NOT_IN_FORM

    app = make_app()
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: _ready(app))
        setup = app.setup_screen
        assert not setup.query("#advanced-fields")  # nothing of it before it is asked for
        setup.query_one("#advanced-toggle", Checkbox).value = True
        assert await wait_for(lambda: bool(setup.query("#field-train-checkpoint-every")))
        missing = []
        for key in field_docs():
            if key in NOT_IN_FORM or field_docs()[key]["type"].startswith("dict"):
                continue
            if not setup.query("#field-" + key.replace(".", "-").replace("_", "-")):
                missing.append(key)
        assert missing == []
        setup.query_one("#advanced-toggle", Checkbox).value = False
        assert await wait_for(lambda: not setup.query_one("#advanced-fields").display)


async def test_data_limits_and_advanced_keys_reach_the_run_and_the_facts(make_app):
    """A train limit set in the form is trained, and the facts and the F5 line say what will
    really be trained (they said 'train 60,000' with a limit in the preset)."""
    engine = FakeEngine(step_delay=0.0)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        setup = app.setup_screen
        setup.field("data.train_limit").control.value = "300"
        setup.field("data.validation_split").control.value = "0.2"
        facts = setup.query_one("#dataset-facts", Static)
        status = setup.query_one("#setup-status", Static)
        assert await wait_for(lambda: "train 240 · val 60 · test 359 images" in str(facts.content))
        assert "train limit 300" in str(facts.content)
        assert await wait_for(lambda: "train 240 · val 60 · test 359 images" in str(status.content))
        setup.show_advanced()
        assert await wait_for(lambda: bool(setup.query("#field-train-checkpoint-every")))
        setup.field("train.seed").control.value = "7"
        setup.field("train.lr_schedule").query_one(Select).value = "cosine"
        assert await wait_for(lambda: (c := setup.build_config()[0]) is not None and c.train.seed == 7)
        await pilot.press("f5")
        assert await wait_for(lambda: engine.calls)
        config = engine.calls[0]["config"]
        assert config.data.train_limit == 300 and config.data.validation_split == 0.2
        assert config.train.seed == 7 and config.train.lr_schedule == "cosine"


async def test_own_block_list_in_the_form_and_back_to_a_named_architecture(make_app):
    app = make_app()
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: _ready(app))
        setup = app.setup_screen
        setup.show_advanced()
        assert await wait_for(lambda: bool(setup.query("#field-train-checkpoint-every")))
        blocks = setup.field("model.blocks")
        assert blocks.control.value == ""
        blocks.control.value = '["conv 8 3", "flatten", "dense 16"]'
        arch = setup.field("model.architecture")
        assert await wait_for(lambda: arch.control.value == "(preset blocks)")
        assert await wait_for(lambda: (c := setup.build_config()[0]) is not None
                              and c.model.blocks == ("conv 8 3", "flatten", "dense 16"))
        arch.control.value = "tiny"
        assert await wait_for(lambda: blocks.control.value == "")
        assert await wait_for(lambda: (c := setup.build_config()[0]) is not None and c.model.blocks is None
                              and c.model.architecture == "tiny")


async def test_a_run_too_big_for_the_memory_is_reported_and_refused(make_app, monkeypatch):
    from cnn_tui.core.models import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 64 << 20)  # a 64 MB machine

    monkeypatch.setattr(memory, "gpu_present", lambda: False)  # activations in this RAM
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _ready(app))
        app.setup_screen.field("train.batch_size").control.value = "65536"
        assert await wait_for(lambda: "not enough memory" in (app.setup_screen.plan_error or ""))
        assert "train.batch_size = 65536" in app.setup_screen.plan_error
        await pilot.press("f5")
        assert await wait_for(
            lambda: any(n.severity == "error" and n.title == "Not training" and "memory" in n.message
                        for n in app._notifications)
        )
        assert engine.calls == []
