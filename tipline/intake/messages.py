"""The traveler's words in English, the source `pybabel extract` reads (see README, Languages).

Each entry is `pgettext(key, English)`, or `npgettext(key, singular, plural, count_name)` where
count_name is the placeholder whose number picks the plural form. Templates use the key:
`t.key`, or `t("key", name=value)` to fill placeholders.
"""

# ruff: noqa: E501  (a message is one line of prose, as translators see it)

from __future__ import annotations

from tipline.intake.markers import npgettext, pgettext

MESSAGES = (
    pgettext("lang_name", "English"),
    pgettext("page_title", "Report what you saw"),
    pgettext("danger", "Someone in danger right now? Call 911"),
    pgettext("quick_exit", "Quick exit"),
    pgettext("poster", "poster"),
    pgettext("train", "Train {number}"),
    pgettext(
        "official",
        "This site is {domain}. If your address bar shows anything else, the sticker may be fake.",
    ),
    pgettext("need_help", "Do you need help yourself?"),
    pgettext(
        "intro",
        "Every question is optional. We do not ask your name or record your phone or network.",
    ),
    pgettext(
        "unknown_code",
        "We don't know the poster code “{code}”. You can still report: tell us where you are.",
    ),
    pgettext("no_code", "Tell us where you are, then what you saw."),
    pgettext("retired", "This poster has been retired. Your report still reaches us."),
    pgettext("where_are_you", "Where are you?"),
    pgettext("where_are_you_hint", "Station, or train number and car"),
    pgettext("what_seen", "What did you see?"),
    pgettext("tick_all", "Tick all that apply."),
    pgettext("group_control", "Control"),
    pgettext("group_travel", "Travel"),
    pgettext("group_relationship", "Relationship"),
    pgettext("group_physical", "Physical signs"),
    pgettext("group_demeanour", "Behaviour"),
    pgettext("group_minor", "A child or teenager"),
    pgettext("ind_holds_documents", "Someone else holds their ID, ticket, money or phone"),
    pgettext("ind_answers_for_them", "A companion answers for them"),
    pgettext("ind_not_free", "They seem coached, or not free to move or talk"),
    pgettext("ind_unsure_destination", "They can't say where they are going"),
    pgettext("ind_few_belongings", "Few or no belongings"),
    pgettext("ind_young_group_older_adult", "A young group with an older adult"),
    pgettext("ind_child_not_theirs", "An adult with a child who doesn't seem to be theirs"),
    pgettext("ind_much_older_partner", "A much older partner"),
    pgettext("ind_threatened", "Treated in a threatening or demeaning way"),
    pgettext("ind_injuries", "Injuries or signs of restraint"),
    pgettext("ind_branding", "Tattoos that look like branding"),
    pgettext("ind_drugged_exhausted", "Seems drugged, starved or exhausted"),
    pgettext("ind_clothing", "Clothing unsuited to the weather or their age"),
    pgettext("ind_fearful", "Fearful, submissive or “checked out”"),
    pgettext("ind_avoids_staff", "Avoids staff or police"),
    pgettext("ind_minor_commercial_sex", "A minor seems to be involved in selling sex"),
    pgettext("happening_now", "Is it happening now?"),
    pgettext("yes", "Yes"),
    pgettext("no", "No"),
    pgettext("when", "If not, roughly when?"),
    pgettext("where_exactly", "Where exactly?"),
    pgettext("car", "Car number"),
    pgettext("direction", "Direction or destination, if known"),
    pgettext("last_station", "Which station did the train last leave?"),
    pgettext("last_station_hint", "Optional. It helps officers meet the train."),
    pgettext("last_station_unknown", "I don't know"),
    pgettext("who", "Who?"),
    pgettext("people_count", "How many people?"),
    pgettext("descriptions", "What do they look like? Clothing, bags, rough age"),
    pgettext("details", "Details"),
    pgettext("details_hint", "Anything else we should know, up to 4,000 characters."),
    pgettext("optional", "Optional"),
    pgettext("contact", "A way to reach you, if you want us to"),
    pgettext("consent", "You may pass my report to the human trafficking hotline or the police"),
    pgettext("honeypot", "Leave this empty"),
    pgettext("send", "Send report"),
    pgettext("errors_title", "Please check the answers marked below."),
    pgettext("err_empty", "Tell us at least one thing: tick what you saw or write a few words."),
    npgettext(
        "err_too_long",
        "Too long: at most {max} character (now {count}).",
        "Too long: at most {max} characters (now {count}).",
        "max",
    ),
    pgettext("err_people", "Enter a number from 1 to 200, or leave it empty."),
    pgettext(
        "err_token",
        "This form was open for a long time. Your text is still here: press “Send report” again.",
    ),
    pgettext(
        "err_limited",
        "Many reports were just sent from here. Your text is still here: please try again in a few minutes.",
    ),
    pgettext(
        "err_server",
        "We could not save your report just now. Your text is still here: please try again in a moment.",
    ),
    pgettext("call_hotline", "Call {number}"),
    pgettext("text_hotline", "Text {number}"),
    pgettext("thanks_title", "Thank you. We received your report."),
    pgettext("receipt", "Your receipt code"),
    pgettext(
        "receipt_note",
        "Write it down now. With this code you can check on this report, read our replies and add information. We keep only a scrambled form of it, so we cannot look it up for you if it is lost.",
    ),
    pgettext("in_danger", "If someone is in danger right now, call 911."),
    pgettext("report_more", "Report something else"),
    pgettext(
        "help_intro",
        "You can talk to someone now, free and in confidence. You don't have to give your name.",
    ),
    pgettext("help_911", "In immediate danger? Call 911."),
    pgettext("help_nothing_else", "Nothing else is required."),
    pgettext(
        "landing_intro", "Saw something worrying at a station or on a train? Tell us, anonymously."
    ),
    pgettext("code_label", "Code on the poster"),
    pgettext("code_open", "Open"),
    pgettext("no_code_link", "No code? Report without one"),
    pgettext("not_found_title", "Page not found"),
    pgettext("not_found_text", "This page does not exist. You can still report what you saw."),
    pgettext("error_title", "Something went wrong"),
    pgettext("error_text", "Please try again in a moment. If someone is in danger, call 911."),
    pgettext("too_large_title", "That was too much to send at once"),
    pgettext(
        "too_large_text",
        "Your report was not sent: it was larger than this service accepts. Please go back, shorten it, and send it again. If someone is in danger right now, do not wait: call 911.",
    ),
    pgettext("followup_link", "Check on a report you sent"),
    pgettext("fu_title", "Check on your report"),
    pgettext("fu_intro", "Type the receipt code you were shown after sending your report."),
    pgettext("fu_code", "Receipt code"),
    pgettext("fu_look", "Show my report"),
    pgettext("fu_not_found", "No report has this code. Check each character and try again."),
    pgettext("fu_limited", "Too many tries. Please wait a few minutes, then try again."),
    pgettext("fu_status", "Where your report is"),
    pgettext("fu_status_received", "Received. It has arrived and is waiting to be read."),
    pgettext("fu_status_looking", "Being looked at. Someone is working on your report."),
    pgettext(
        "fu_status_closed",
        "Closed. The team has finished with this report. You can still add information.",
    ),
    pgettext("fu_messages", "Messages"),
    pgettext("fu_none", "No messages yet."),
    pgettext("fu_from_staff", "From the team"),
    pgettext("fu_from_you", "You added"),
    pgettext("fu_add", "Add information"),
    pgettext("fu_send", "Send"),
    pgettext("fu_added", "Thank you. We added this to your report."),
    pgettext("fu_empty", "Write something or choose a photo."),
    pgettext(
        "fu_nothing_kept",
        "Nothing about this visit is kept on this phone. Close the page when you are done.",
    ),
    pgettext("photo", "Photo (optional)"),
    pgettext(
        "photo_hint", "Up to 3 photos, 10 MB each. We remove location and camera details from them."
    ),
    pgettext(
        "err_photo",
        "A photo could not be used: it may not be a photo, or it is larger than 10 MB. Everything else you wrote is kept below; you can choose another photo.",
    ),
    pgettext(
        "offline_wait",
        "No signal right now. Your report is kept only on this page: keep it open and it will be sent when the signal returns.",
    ),
    pgettext("offline_sending", "Sending…"),
    pgettext(
        "send_too_large",
        "Too much to send at once: remove a photo and send again.",
    ),
    pgettext(
        "photos_extra",
        "Only the first 3 photos were kept. With your receipt code you can add more later.",
    ),
    pgettext(
        "fu_add_limited",
        "This report has had many additions in a short time. Nothing was added: your text is kept below. Please send it again later.",
    ),
    pgettext(
        "fu_photos_full",
        "This report already has as many photos as it can take: the new photos were not kept.",
    ),
    pgettext(
        "photo_refused",
        "Your report was sent. A photo could not be used (it may not be a photo, or it is larger than 10 MB): with your receipt code you can add another one.",
    ),
)
