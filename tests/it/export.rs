//! The screenplay export: Fountain read back by an independent reader, plain
//! text, JSON, and `screenplay export` from the shell.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp,
    fountain::{Element, parse},
};

#[tokio::test]
async fn fountain_round_trips_every_fragment_kind() {
    let app = TestApp::spawn().await;
    let s = app.studio("fountain").await;
    let a = s.agent.token.clone();
    let session = app.create_session(&s.member.token, s.workspace, "Rain Check").await;
    let steps = app
        .set_outline(
            &a,
            session,
            json!([{ "title": "Act One", "description": "The setup.", "children": [
                { "title": "Kitchen" }, { "title": "Street" } ] }]),
        )
        .await;
    let (kitchen, street) = (steps[1], steps[2]);
    let frag = |step, kind: &str, content: &str, character: Option<&str>| {
        let mut input = json!({ "sessionId": session, "stepId": step, "kind": kind, "content": content });
        if let Some(c) = character {
            input["character"] = json!(c);
        }
        input
    };
    let fragments = [
        frag(kitchen, "SCENE_HEADING", "INT. KITCHEN - NIGHT", None),
        frag(kitchen, "ACTION", "Rain hammers the window.\nALICE stirs a pot.", None),
        frag(kitchen, "ACTION", "BOOM!", None),
        frag(kitchen, "CHARACTER", "ALICE", None),
        frag(kitchen, "PARENTHETICAL", "quietly", None),
        frag(kitchen, "DIALOGUE", "You're late.", None),
        frag(kitchen, "DIALOGUE", "Again.", Some("ALICE")),
        frag(kitchen, "DIALOGUE", "Traffic.", Some("McCLANE")),
        frag(kitchen, "CHARACTER", "李雷", None),
        frag(kitchen, "DIALOGUE", "你好。", None),
        frag(kitchen, "NOTE", "Check the rain sound.", None),
        frag(kitchen, "TRANSITION", "CUT TO:", None),
        frag(street, "SCENE_HEADING", "The street outside", None),
        frag(street, "ACTION", "INT. signs flicker.", None),
        frag(street, "TRANSITION", "FADE OUT.", None),
    ];
    let mut ids = Vec::new();
    for f in fragments {
        ids.push(app.append_with(&a, f).await);
    }
    // A revision: the export has the current version only.
    app.gql(
        Some(&a),
        "mutation($i: ReviseFragmentInput!) { reviseFragment(input: $i) { fragment { version } } }",
        json!({ "i": { "id": ids[5], "version": 1, "content": "You're late. Again." } }),
    )
    .await;

    let data = app
        .gql(
            Some(&s.member.token),
            "query($id: UUID!) { session(id: $id) { fountain: screenplay(format: FOUNTAIN) plain: screenplay(format: PLAIN) json: screenplay(format: JSON) } }",
            json!({ "id": session }),
        )
        .await;
    let fountain = data["session"]["fountain"].as_str().expect("fountain");
    let elements = parse(fountain);
    use Element::*;
    let expected = vec![
        TitleField("Title".into(), "Rain Check".into()),
        TitleField("Logline".into(), "A test.".into()),
        TitleField("Genre".into(), "drama".into()),
        Section(1, "Act One".into()),
        Synopsis("The setup.".into()),
        Section(2, "Kitchen".into()),
        SceneHeading("INT. KITCHEN - NIGHT".into()),
        Action("Rain hammers the window.\nALICE stirs a pot.".into()),
        Action("BOOM!".into()),
        Character("ALICE".into()),
        Parenthetical("(quietly)".into()),
        Dialogue("You're late. Again.".into()),
        // Same speaker: the speech continues without a new cue.
        Dialogue("Again.".into()),
        Character("McCLANE".into()),
        Dialogue("Traffic.".into()),
        Character("李雷".into()),
        Dialogue("你好。".into()),
        Note("Check the rain sound.".into()),
        Transition("CUT TO:".into()),
        Section(2, "Street".into()),
        SceneHeading("The street outside".into()),
        Action("INT. signs flicker.".into()),
        Transition("FADE OUT.".into()),
    ];
    // The reader merges consecutive dialogue lines of one speech.
    let merged: Vec<Element> = {
        let mut out: Vec<Element> = Vec::new();
        for e in expected {
            match (out.last_mut(), &e) {
                (Some(Dialogue(prev)), Dialogue(next)) => {
                    prev.push('\n');
                    prev.push_str(next);
                }
                _ => out.push(e),
            }
        }
        out
    };
    assert_eq!(elements, merged, "\n{fountain}");
    // Forced where a reader would misread.
    for forced in [
        "!BOOM!",
        "@McCLANE",
        "@李雷",
        ".The street outside",
        "> FADE OUT.",
        "!INT. signs flicker.",
    ] {
        assert!(
            fountain.lines().any(|l| l == forced),
            "missing `{forced}` in\n{fountain}"
        );
    }

    let plain = data["session"]["plain"].as_str().expect("plain");
    assert!(plain.contains("INT. KITCHEN - NIGHT"));
    assert!(plain.contains("You're late. Again."));
    assert!(
        !plain.contains("Check the rain sound."),
        "notes are not part of the plain text"
    );
    let doc: Value = serde_json::from_str(data["session"]["json"].as_str().expect("json")).expect("valid JSON");
    assert_eq!(doc["title"], "Rain Check");
    assert_eq!(
        doc["outline"][0]["children"][0]["fragments"]
            .as_array()
            .expect("fragments")
            .len(),
        12
    );
    assert_eq!(doc["outline"][0]["children"][0]["fragments"][5]["version"], 2);

    // The command line prints the same Fountain text.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_screenplay"))
        .args(["export", "--session", &session.to_string(), "--format", "fountain"])
        .env("DATABASE_URL", &app.db.app_url)
        .env("SCREENPLAY_MIGRATION_DATABASE_URL", &app.db.owner_url)
        .env("RUST_LOG", "error")
        .output()
        .await
        .expect("run screenplay export");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), fountain);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_screenplay"))
        .args(["export", "--session", &uuid::Uuid::new_v4().to_string()])
        .env("DATABASE_URL", &app.db.app_url)
        .env("RUST_LOG", "error")
        .output()
        .await
        .expect("run screenplay export");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not found"));
}
