"""Write the Q2A task-plan data set (q2a_{train,dev,test}.jsonl) from hand-written templates.

Run from the repository root:  .venv/bin/python resources/benchmark/generate.py [--out DIR]

Standard library only (plus agent/plan.py, itself stdlib) and fully deterministic: every
template draws from its own random.Random seeded with SEED and the template id, so adding or
editing one template does not reshuffle the others. Every record is checked with agent.plan's
validate() and the extra rules the benchmark relies on before anything is written; the
statistics block of DATACARD.md (between its stats markers) is rewritten from the records.

A template is one request type: several hand-written paraphrases, the reference plan (tasks and
one plain-English step per task) and where its file names and literal texts come from. Each
template goes to exactly one split (train, dev or test), with all its paraphrases and
file-name variants, so the test split measures plans for request types the model has not seen.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.plan import SPEC_TOOLS, plan_from_obj, validate  # noqa: E402

SEED = 20240713
SPLITS = ("train", "dev", "test")
SCENARIOS = ("audio", "posture", "face-object", "memory", "mixed")
TARGET_SHARE = {"train": 0.60, "dev": 0.15, "test": 0.25}
SHARE_TOLERANCE = 0.05
AUDIO_EXT = (".wav", ".mp3", ".m4a", ".ogg", ".flac")
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".webp")
GEN = "<GENERATED>-"
STATS_BEGIN = "<!-- stats:begin (written by generate.py; do not edit by hand) -->"
STATS_END = "<!-- stats:end -->"

# --------------------------------------------------------------------------------------------
# File names, by the kind of recording or picture a request is about.

FILES: dict[str, list[str]] = {
    # audio
    "memo": ["memo.wav", "voice_note_0312.m4a", "New Recording 14.m4a", "note_to_self.ogg",
             "memo_2024-02-09.mp3", "rec_0047.wav", "quick_thought.m4a", "Voice 003.m4a",
             "idea_walk_home.ogg", "dictation.flac", "voice_memo_1120.mp3", "reminder.wav",
             "ptt_0419.ogg", "notes_in_car.m4a"],
    "meeting": ["meeting_2024-03-14.mp3", "standup.wav", "team_sync_0402.m4a",
                "board_meeting.flac", "zoom_recording_ep3.m4a", "project_kickoff.ogg",
                "weekly_review.mp3", "client_call_notes.wav", "retro_sprint12.m4a",
                "budget_meeting.flac", "1on1_with_sam.m4a"],
    "call": ["call_with_mum.m4a", "voicemail_from_dentist.mp3", "PTT-20240611-WA0003.ogg",
             "voicemail_0805.wav", "landlord_call.m4a", "phone_call_grandpa.mp3",
             "insurance_call.flac", "voicemail_school.ogg", "missed_call_msg.m4a"],
    "lecture": ["lecture_week5.flac", "lecture_03.mp3", "seminar_0412.m4a",
                "talk_recording.wav", "class_recording.mp3", "webinar_part2.ogg",
                "class_notes_0917.m4a", "guest_talk.flac"],
    "foreign": ["message_from_lucia.m4a", "interview_es.mp3", "voicemail_pierre.ogg",
                "oma_sprachnachricht.m4a", "clip_lisbon.wav", "audio_from_kenji.flac",
                "WA0012_voice.ogg"],
    "coach": ["coach_feedback.m4a", "trainer_note.ogg", "physio_advice.mp3",
              "PTT-20240702-WA0011.ogg", "squat_tips.wav", "pt_session_notes.flac"],
    "intercom": ["doorbell_message.wav", "intercom_1432.m4a", "gate_voice.ogg",
                 "porch_audio.mp3", "door_msg_0601.flac"],
    # images
    "people": ["IMG_2041.png", "family_dinner.jpg", "party_2023.jpeg",
               "IMG_20240522_183012.jpg", "wedding_table4.jpg", "team_photo.png",
               "bbq_saturday.webp", "graduation.jpeg", "PXL_20240301_101522.jpg",
               "photo_0117.jpg", "group_selfie.jpg", "christmas_eve.png", "reunion.webp"],
    "attendees": ["meeting_room_photo.jpg", "attendees.png", "workshop_group.jpeg",
                  "IMG_6630.jpg", "offsite_2024.webp", "team_photo.png", "kickoff_group.jpg"],
    "doorbell": ["front_door_cam.jpg", "doorbell_1432.png", "porch_snapshot.jpeg",
                 "gate_camera.webp", "door_2024-06-01_18-22.jpg", "ring_capture.png"],
    "room": ["kitchen.jpg", "living_room.png", "garage.webp", "desk_setup.png", "backyard.jpeg",
             "office.jpg", "hallway.jpg", "kids_room.png", "shelf.jpeg", "workbench.webp",
             "IMG_0982.jpg", "entryway.png"],
    "street": ["street_view.jpg", "parking_lot.png", "driveway.jpeg", "IMG_3310.jpg",
               "traffic_cam_0815.webp", "car_park_level2.png", "our_street.jpg"],
    "fridge": ["fridge.jpg", "fridge_inside.png", "IMG_4418.jpeg", "groceries.webp",
               "fridge_0930.jpg", "fridge_shelves.png"],
    "webcam": ["webcam_snapshot.png", "desk_cam_0915.jpg", "me_at_desk.png",
               "posture_check.jpeg", "laptop_cam_1402.jpg", "standing_desk.webp",
               "zoom_still.png", "office_chair.jpg", "Screenshot 2024-05-07 at 10.31.png"],
    "monitor": ["grandma_livingroom.jpg", "hallway_cam.webp", "camera1_2024-06-01_14-03.jpg",
                "stairs_cam.png", "frame_0042.png", "care_cam_0730.jpeg", "kitchen_cam.jpg",
                "lounge_cam_2215.webp"],
    "bedroom": ["kids_room.png", "nursery_cam.jpg", "bedroom_monitor.jpg",
                "baby_cam_2130.webp", "sleepover.jpeg", "bunk_beds.png"],
    "exercise": ["gym_squat.jpeg", "deadlift_side.png", "yoga_pose.jpg", "plank_check.webp",
                 "pushup_form.jpg", "stretch_0611.png", "lunge.jpeg"],
    "group": ["meeting_room.jpg", "classroom.png", "waiting_room.jpeg", "conference_hall.webp",
              "bus_stop.jpg", "office_floor.png", "dance_class.jpg", "IMG_7712.jpg"],
    "floor": ["yoga_class.jpg", "beach.jpeg", "park_lawn.png", "gym_floor.webp",
              "picnic.jpg", "campsite.png"],
    "pet": ["garden.jpg", "backyard_cam.png", "couch.jpeg", "IMG_5120.webp", "park_walk.jpg",
            "living_room_cam.png"],
}

# Pairs of pictures of the same place or person taken at two times.
POSTURE_PAIRS = [("morning.jpg", "afternoon.jpg"), ("desk_0900.png", "desk_1630.png"),
                 ("before_adjusting.jpeg", "after_adjusting.jpeg"), ("monday.webp", "friday.webp"),
                 ("chair_old.jpg", "chair_new.jpg"), ("posture_0312.png", "posture_0412.png")]
ROOM_PAIRS = [("kitchen_before.jpg", "kitchen_after.jpg"), ("desk_monday.png", "desk_friday.png"),
              ("garage_0801.jpg", "garage_0815.jpg"),
              ("living_room_am.webp", "living_room_pm.webp"),
              ("shelf_old.jpeg", "shelf_new.jpeg"), ("hall_1.jpg", "hall_2.jpg")]

# Facts a user asks Hearth to remember, and the short topic they would search them by.
# Each template takes its own slice, so no fact appears in two splits.
FACTS: list[tuple[str, str]] = [
    # 0-7: mem.remember (train)
    ("my sister's birthday is on June 14", "my sister's birthday"),
    ("the spare key is under the blue flowerpot", "the spare key"),
    ("Anna is allergic to peanuts", "Anna's allergies"),
    ("I lent my drill to Marco", "my drill"),
    ("my passport expires in March 2027", "my passport"),
    ("the plumber's name is Ahmed", "the plumber"),
    ("Grandpa takes his tea with two sugars", "Grandpa's tea"),
    ("book club meets every second Thursday", "book club"),
    # 8-13: mem.save_and_ask facts (train)
    ("my gym locker code is 2718", "my gym locker code"),
    ("the boiler was serviced in January", "the boiler service"),
    ("Priya recommended the book Piranesi", "the book Priya recommended"),
    ("our anniversary dinner is booked at Luca's for the 20th", "our anniversary dinner"),
    ("the kids' school closes early on Fridays", "the kids' school"),
    ("the bins go out on Tuesday nights", "the bins"),
    # 14-21: mem.note_down and mem.two_searches (test)
    ("the car insurance renews on 1 September", "the car insurance"),
    ("my blood type is O negative", "my blood type"),
    ("Dev's wedding is in Porto on 12 October", "Dev's wedding"),
    ("the router admin page is at 192.168.1.1", "the router"),
    ("I owe Lena 40 euros for the concert tickets", "the concert tickets"),
    ("the cat's vaccination is due in May", "the cat's vaccination"),
    ("my shoe size in Europe is 43", "my shoe size"),
    ("the landlord wants a month's notice before we move out", "the landlord"),
    # 22-27: mem.update (dev)
    ("my new work phone number is 0161 496 0732", "my work phone number"),
    ("Dad moved his physio to Wednesdays", "Dad's physio"),
    ("the babysitter's rate went up to 14 an hour", "the babysitter"),
    ("my Spanish class now starts at 7pm", "my Spanish class"),
    ("the garage door code changed to 5521", "the garage door code"),
    ("Mia prefers to be called Mimi now", "Mia"),
    # 28-35: mem.two_saves (dev), used in pairs
    ("the printer ink is the 302XL cartridge", "the printer ink"),
    ("I returned the library books on Monday", "the library books"),
    ("the tomato seedlings were planted on 3 April", "the tomato seedlings"),
    ("Oscar's football practice moved to Saturday mornings", "Oscar's football practice"),
    ("the electricity meter reading was 48213", "the electricity meter reading"),
    ("the water company's reference number is WX-88120", "the water company"),
    ("I prefer aisle seats on flights", "my seat preference"),
    ("the neighbours are away until the 28th", "the neighbours"),
]


def facts(start: int, stop: int) -> list[dict[str, str]]:
    return [{"fact": f, "topic": t} for f, t in FACTS[start:stop]]


def fact_pairs(start: int, stop: int) -> list[dict[str, str]]:
    """Pairs of different facts from the slice (each unordered pair at most once)."""
    rows = FACTS[start:stop]
    n = len(rows)
    return [{"fact": rows[i][0], "fact2": rows[(i + 3) % n][0]} for i in range(n)]


def one(key: str, values: list[str]) -> list[dict[str, str]]:
    return [{key: v} for v in values]


# --------------------------------------------------------------------------------------------
# Templates.


@dataclass
class Step:
    task: str
    step: str
    args: dict[str, str]
    dep: list[int] = field(default_factory=list)


def S(task: str, step: str, dep: list[int] | None = None, **args: str) -> Step:
    return Step(task, step, args, list(dep or []))


@dataclass
class Template:
    id: str
    scenario: str
    split: str
    say: list[str]
    plan: list[Step]
    files: dict[str, str] = field(default_factory=dict)  # slot -> FILES pool
    fills: list[dict[str, str]] = field(default_factory=list)  # one dict per record, cycled
    n: int = 5


T = Template
STT = "speech-to-text"
OD = "object-detection"
POSE = "pose-estimation"
FACE = "face-recognition"
SEARCH = "memory-search"
SAVE = "memory-save"

TEMPLATES: list[Template] = [
    # ---------------------------------------------------------------------------- audio
    T("audio.transcribe", "audio", "train", files={"audio": "memo"}, n=6, say=[
        "Transcribe {audio}.",
        "Can you write out what's said in {audio}?",
        "Type up this recording for me.",
        "I need a transcript of {audio}, please.",
        "Turn this voice memo into text.",
        "transcribe pls",
    ], plan=[S(STT, "Transcribe the recording {audio}", audio="{audio}")]),
    T("audio.promise", "audio", "train", files={"audio": "memo"}, n=6, say=[
        "What did I promise in {audio}?",
        "What did I say I'd do in this memo?",
        "Listen to {audio} and tell me what I committed to.",
        "Remind me what I promised to do in that voice note.",
        "Which tasks did I sign myself up for in {audio}?",
    ], plan=[S(STT, "Transcribe the voice memo {audio}", audio="{audio}")]),
    T("audio.meeting_summary", "audio", "train", files={"audio": "meeting"}, n=6, say=[
        "Summarize the meeting in {audio}.",
        "Give me the key points from {audio}.",
        "What were the action items in this meeting recording?",
        "Can you boil {audio} down to a few bullet points?",
        "I missed the meeting. What happened? The recording is attached.",
        "tl;dr of {audio}?",
    ], plan=[S(STT, "Transcribe the meeting recording {audio}", audio="{audio}")]),
    T("audio.language", "audio", "dev", files={"audio": "foreign"}, n=6, say=[
        "What language is {audio} in?",
        "Which language are they speaking in this clip?",
        "Can you tell what language this voicemail is in?",
        "Is {audio} in Spanish or Portuguese?",
        "Identify the language spoken in {audio}.",
    ], plan=[S(STT, "Transcribe {audio} and detect its language", audio="{audio}")]),
    T("audio.translate", "audio", "test", files={"audio": "foreign"}, n=6, say=[
        "Translate {audio} into English.",
        "What is she saying in this voice message? I don't speak the language.",
        "Give me an English version of what's said in {audio}.",
        "Can you translate this recording for me?",
        "A friend abroad sent me {audio}. What does it say in English?",
    ], plan=[S(STT, "Transcribe the speech in {audio}", audio="{audio}")]),
    T("audio.timestamp", "audio", "train", files={"audio": "meeting"}, say=[
        "When in {audio} does she mention the deadline?",
        "At what point in the recording do they talk about the budget?",
        "Find the part of {audio} where someone brings up the launch date.",
        "How far into {audio} do they start discussing hiring?",
        "Give me the timestamp where the vote happens in this recording.",
    ], plan=[S(STT, "Transcribe {audio} with timestamps", audio="{audio}")]),
    T("audio.voicemail", "audio", "test", files={"audio": "call"}, n=6, say=[
        "Who left this voicemail and what do they want?",
        "What's {audio} about?",
        "Can you listen to {audio} and tell me if I need to call back?",
        "Is the message in {audio} urgent?",
        "Quick summary of this voice message please.",
    ], plan=[S(STT, "Transcribe the voicemail {audio}", audio="{audio}")]),
    T("audio.shopping_list", "audio", "train", files={"audio": "memo"}, say=[
        "Make a shopping list from {audio}.",
        "What do I need to buy according to this note?",
        "I rattled off some groceries in {audio}. List them for me.",
        "Turn my voice note into a checklist of things to pick up.",
        "Pull the grocery items out of {audio}.",
    ], plan=[S(STT, "Transcribe the voice note {audio}", audio="{audio}")]),
    T("audio.lecture_question", "audio", "dev", files={"audio": "lecture"},
      fills=one("subject", ["photosynthesis", "the French Revolution", "supply and demand",
                            "neural networks", "plate tectonics", "the Krebs cycle"]), say=[
        "What did the lecturer say about {subject} in {audio}?",
        "Explain the part of {audio} that covers {subject}.",
        "Did the speaker mention {subject} in this recording?",
        "Summarize what {audio} says about {subject}.",
        "I zoned out during the bit on {subject}. What was said? Recording attached.",
    ], plan=[S(STT, "Transcribe the lecture recording {audio}", audio="{audio}")]),
    T("audio.reply_email", "audio", "train", files={"audio": "call"}, say=[
        "Write a reply email based on {audio}.",
        "Draft a response to the message in {audio}.",
        "Help me answer this voicemail by email.",
        "Listen to {audio} and draft a polite reply.",
        "What should I write back to them? Voice message attached.",
    ], plan=[S(STT, "Transcribe the message in {audio}", audio="{audio}")]),
    T("audio.search_related", "audio", "train", files={"audio": "memo"}, n=6, say=[
        "Does anything in {audio} relate to what I've saved before?",
        "Check my notes for anything connected to this memo.",
        "Transcribe {audio} and look it up in my memories.",
        "What do I already know about the stuff I mention in {audio}?",
        "Find memories related to what I said in this voice note.",
    ], plan=[S(STT, "Transcribe the voice memo {audio}", audio="{audio}"),
             S(SEARCH, "Search my memories for what the memo mentions", dep=[0],
               text=GEN + "0")]),
    T("audio.save_memo", "audio", "train", files={"audio": "memo"}, n=6, say=[
        "Transcribe {audio} and remember it.",
        "Save what I said in this voice note to memory.",
        "Keep this memo in your memory.",
        "Please remember the contents of {audio}.",
        "Store {audio} as a note so I can ask about it later.",
        "add this recording to my memories",
    ], plan=[S(STT, "Transcribe the voice note {audio}", audio="{audio}"),
             S(SAVE, "Save the transcript to memory", dep=[0], text=GEN + "0")]),
    T("audio.meeting_save", "audio", "dev", files={"audio": "meeting"}, say=[
        "Store the notes from {audio} so I can ask about them later.",
        "Remember what was decided in this meeting.",
        "Transcribe the meeting in {audio} and save it to my memory.",
        "Keep a record of {audio} in your memory.",
        "File this meeting recording away in my notes.",
    ], plan=[S(STT, "Transcribe the meeting recording {audio}", audio="{audio}"),
             S(SAVE, "Save the meeting transcript to memory", dep=[0], text=GEN + "0")]),
    T("audio.already_noted", "audio", "test", files={"audio": "memo"}, n=6, say=[
        "Have I already told you about the thing in {audio}?",
        "Did I save this idea before? It's in {audio}.",
        "Check whether what I say in this memo is already in my memories.",
        "Is {audio} a repeat of something I noted earlier?",
        "Before I save this voice note, see if I have something like it already.",
    ], plan=[S(STT, "Transcribe the voice memo {audio}", audio="{audio}"),
             S(SEARCH, "Search my memories for anything matching the transcript", dep=[0],
               text=GEN + "0")]),
    T("audio.call_lookup", "audio", "train", files={"audio": "call"}, say=[
        "They mentioned a date in {audio}. Do I have anything saved about it?",
        "Listen to this call and check my memory for anything about what they bring up.",
        "What do my notes say about the things mentioned in {audio}?",
        "Someone talked about an appointment in {audio}. Did I write anything down about that?",
        "Look up whatever this voicemail is about in my memories.",
    ], plan=[S(STT, "Transcribe the call recording {audio}", audio="{audio}"),
             S(SEARCH, "Look up what the call mentions in my memories", dep=[0],
               text=GEN + "0")]),
    T("audio.compare_two", "audio", "train", files={"audio": "memo", "audio2": "memo"}, say=[
        "Compare what's said in {audio} and {audio2}.",
        "Transcribe both recordings.",
        "Do {audio} and {audio2} say the same thing?",
        "What's different between these two voice notes?",
        "Write out {audio} and {audio2} for me.",
    ], plan=[S(STT, "Transcribe the first recording {audio}", audio="{audio}"),
             S(STT, "Transcribe the second recording {audio2}", audio="{audio2}")]),
    T("audio.save_and_search", "audio", "test", files={"audio": "memo"}, say=[
        "Transcribe {audio}, save it, and tell me if it relates to anything I saved before.",
        "Remember this voice note and check if it connects to my older notes.",
        "Save {audio} to memory and also find related memories.",
        "Keep this memo and show me anything similar I've stored.",
    ], plan=[S(STT, "Transcribe the voice note {audio}", audio="{audio}"),
             S(SAVE, "Save the transcript to memory", dep=[0], text=GEN + "0"),
             S(SEARCH, "Search my memories for anything related to the transcript", dep=[0],
               text=GEN + "0")]),
    T("audio.save_two", "audio", "train", files={"audio": "memo", "audio2": "memo"}, say=[
        "Remember both of these voice notes.",
        "Save {audio} and {audio2} to memory.",
        "Transcribe these two memos and store them.",
        "Keep {audio} and {audio2} in my notes.",
    ], plan=[S(STT, "Transcribe {audio}", audio="{audio}"),
             S(SAVE, "Save the first transcript to memory", dep=[0], text=GEN + "0"),
             S(STT, "Transcribe {audio2}", audio="{audio2}"),
             S(SAVE, "Save the second transcript to memory", dep=[2], text=GEN + "2")]),
    T("audio.lecture_save", "audio", "test", files={"audio": "lecture"}, say=[
        "Save the lecture in {audio} to my notes so I can revise from it.",
        "Transcribe this talk and keep it in memory.",
        "Put {audio} into my memories; I'll have questions about it before the exam.",
        "Add the contents of this lecture recording to what you remember.",
        "Store a transcript of {audio} for later.",
    ], plan=[S(STT, "Transcribe the lecture {audio}", audio="{audio}"),
             S(SAVE, "Save the lecture transcript to memory", dep=[0], text=GEN + "0")]),
    T("audio.quote", "audio", "train", files={"audio": "call"}, say=[
        "What exactly did they say about the price in {audio}?",
        "Quote me the part of this call where they give the date.",
        "Did they say Tuesday or Thursday in {audio}?",
        "What was the number they read out in this message?",
        "Give me the exact words from {audio} about the delivery.",
    ], plan=[S(STT, "Transcribe the call {audio}", audio="{audio}")]),
    T("audio.none_formats", "audio", "test", n=4, say=[
        "What audio formats can you transcribe?",
        "Can you open .flac files?",
        "Do you support m4a recordings from my phone?",
        "Does transcription work without internet?",
    ], plan=[]),
    T("audio.none_tips", "audio", "train", n=4, say=[
        "How do I record a voice memo on my laptop?",
        "Any tips for getting a clean recording in a noisy room?",
        "What's the difference between mp3 and flac?",
        "Should I record meetings in wav or mp3?",
        "How close should I hold my phone when recording a voice note?",
    ], plan=[]),

    # -------------------------------------------------------------------------- posture
    T("posture.sit_or_stand", "posture", "train", files={"image": "monitor"}, n=6, say=[
        "Is she sitting or standing in {image}?",
        "Is the person in this picture standing up?",
        "Sitting or standing: which is it in {image}?",
        "Tell me if he's seated in this photo.",
        "Is the person in {image} on their feet?",
    ], plan=[S(POSE, "Estimate the pose of the person in {image}", image="{image}")]),
    T("posture.check_mine", "posture", "train", files={"image": "webcam"}, n=7, say=[
        "Check my posture in {image}.",
        "Am I slouching in this webcam shot?",
        "How's my sitting posture here?",
        "Is my back straight in {image}?",
        "Rate my posture from this snapshot.",
        "posture check pls",
    ], plan=[S(POSE, "Estimate my body pose in {image}", image="{image}")]),
    T("posture.fall", "posture", "test", files={"image": "monitor"}, n=7, say=[
        "Is anyone lying on the floor in {image}?",
        "Has someone fallen in this camera frame?",
        "Check {image}: is anyone on the ground?",
        "Make sure nobody's lying down in the hallway in this picture.",
        "Is grandma still on her feet in {image}?",
    ], plan=[S(POSE, "Detect people's poses in {image} and check for anyone lying down",
               image="{image}")]),
    T("posture.count_standing", "posture", "dev", files={"image": "group"}, n=6, say=[
        "How many people are standing in {image}?",
        "Count the people on their feet in this photo.",
        "How many are standing versus sitting in {image}?",
        "In {image}, how many people are still standing?",
        "Tell me how many people in this picture aren't sitting.",
    ], plan=[S(POSE, "Estimate the pose of everyone in {image}", image="{image}")]),
    T("posture.exercise_form", "posture", "train", files={"image": "exercise"}, n=6, say=[
        "Check my form in {image}.",
        "Am I bending my back too much in this exercise photo?",
        "How does my body position look in {image}?",
        "Is my posture right for this exercise?",
        "Look at {image}. Are my knees and hips lined up?",
    ], plan=[S(POSE, "Estimate my body keypoints in {image}", image="{image}")]),
    T("posture.anyone_bending", "posture", "train", files={"image": "group"}, say=[
        "Is anyone bending over in {image}?",
        "Is somebody stooping down in this picture?",
        "Is anyone in {image} bent over?",
        "Check whether someone is bending down in this frame.",
    ], plan=[S(POSE, "Estimate the poses of the people in {image}", image="{image}")]),
    T("posture.count_sitting", "posture", "test", files={"image": "group"}, n=6, say=[
        "How many people are sitting down in {image}?",
        "Count the seated people in this photo.",
        "How many of the people in {image} are sitting?",
        "Is everyone in {image} sitting down?",
        "How many people are seated in this picture?",
    ], plan=[S(POSE, "Estimate the poses in {image} and count who is sitting",
               image="{image}")]),
    T("posture.kids_in_bed", "posture", "train", files={"image": "bedroom"}, say=[
        "Are the kids lying down in {image} or are they still up?",
        "Is the baby lying down in this monitor snapshot?",
        "Are they in bed yet? Here's the camera picture.",
        "Check {image}: is anyone still standing up?",
        "Is my son lying down or sitting up in {image}?",
    ], plan=[S(POSE, "Estimate the poses in {image}", image="{image}")]),
    T("posture.describe", "posture", "train", files={"image": "people"}, say=[
        "What position is everyone in in {image}?",
        "Describe how the people in this photo are positioned.",
        "Give me the posture of each person in {image}.",
        "Is each person in {image} sitting, standing or lying down?",
        "List the posture of every person in this picture.",
    ], plan=[S(POSE, "Estimate the pose of each person in {image}", image="{image}")]),
    T("posture.lying_count", "posture", "train", files={"image": "floor"}, say=[
        "How many people are lying down in {image}?",
        "Count everyone lying on the ground in this photo.",
        "Is anyone in {image} lying down?",
        "How many people in this picture are lying flat?",
        "Are people lying or sitting on the ground in {image}?",
    ], plan=[S(POSE, "Estimate the poses of the people in {image}", image="{image}")]),
    T("posture.log", "posture", "train", files={"image": "webcam"}, n=6, say=[
        "Check my posture in {image} and log it.",
        "Note down how I'm sitting in this snapshot for my posture diary.",
        "Save my posture from {image} to memory.",
        "Record today's posture check from this webcam shot.",
        "Look at my posture here and remember the result.",
    ], plan=[S(POSE, "Estimate my posture in {image}", image="{image}"),
             S(SAVE, "Save the posture result to memory", dep=[0], text=GEN + "0")]),
    T("posture.fall_log", "posture", "test", files={"image": "monitor"}, say=[
        "Check {image} for anyone who has fallen and keep a record of what you see.",
        "Log whether anyone is lying on the floor in this camera frame.",
        "Is anyone down in {image}? Save the result to memory either way.",
        "Look at the camera picture and note everyone's posture in my memory.",
    ], plan=[S(POSE, "Estimate the poses in {image}", image="{image}"),
             S(SAVE, "Save what the poses show to memory", dep=[0], text=GEN + "0")]),
    T("posture.compare_two", "posture", "train",
      fills=[{"image": a, "image2": b} for a, b in POSTURE_PAIRS], n=6, say=[
        "Compare my posture in {image} and {image2}.",
        "Was I sitting straighter in {image} or {image2}?",
        "Did my posture improve between these two photos?",
        "Which of these two snapshots shows better posture?",
        "Look at {image} and {image2}. Am I slouching more in one of them?",
    ], plan=[S(POSE, "Estimate my posture in {image}", image="{image}"),
             S(POSE, "Estimate my posture in {image2}", image="{image2}")]),
    T("posture.two_cams_fall", "posture", "dev",
      files={"image": "monitor", "image2": "monitor"}, n=6, say=[
        "Check both camera frames, {image} and {image2}: is anyone lying down?",
        "Look at these two camera pictures and tell me if anyone has fallen.",
        "Is anybody on the floor in {image} or {image2}?",
        "Scan both snapshots for someone lying on the ground.",
    ], plan=[S(POSE, "Estimate the poses in {image}", image="{image}"),
             S(POSE, "Estimate the poses in {image2}", image="{image2}")]),
    T("posture.vs_history", "posture", "test", files={"image": "webcam"}, say=[
        "Is my posture in {image} better than what you logged last time?",
        "Compare how I'm sitting in this snapshot with my saved posture checks.",
        "Have I improved? Check {image} against my posture history.",
        "Look up my past posture checks and tell me if {image} is better.",
    ], plan=[S(POSE, "Estimate my posture in {image}", image="{image}"),
             S(SEARCH, "Search my memories for earlier posture checks",
               text="posture checks")]),
    T("posture.standing_tracker", "posture", "dev", files={"image": "webcam"}, say=[
        "I'm trying to stand more. Note whether I'm standing in {image}.",
        "Log if I'm standing or sitting in this desk shot.",
        "Keep track: am I standing in {image}? Save it.",
        "Add this snapshot to my standing-desk log.",
        "Record whether I was on my feet in {image}.",
    ], plan=[S(POSE, "Check whether I am standing in {image}", image="{image}"),
             S(SAVE, "Save the result to my standing log", dep=[0], text=GEN + "0")]),
    T("posture.none_tips", "posture", "train", n=5, say=[
        "What's a good posture for working at a desk?",
        "How should I sit to avoid back pain?",
        "How often should I get up from my desk?",
        "Is a standing desk better than sitting all day?",
        "What stretches help with a stiff neck?",
    ], plan=[]),
    T("posture.none_capabilities", "posture", "dev", n=4, say=[
        "Which postures can you recognize?",
        "Can you tell from a camera picture if someone has fallen?",
        "How do you decide if someone is sitting or standing?",
        "Do you keep the photos after checking my posture?",
    ], plan=[]),

    # ---------------------------------------------------------------------- face-object
    T("face.who", "face-object", "train", files={"image": "people"}, n=7, say=[
        "Who is in this photo?",
        "Who's in {image}?",
        "Can you tell me who these people are?",
        "Recognize the faces in {image}.",
        "Name everyone in this picture.",
        "who's this",
    ], plan=[S(FACE, "Recognize the faces in {image}", image="{image}")]),
    T("face.is_person_there", "face-object", "train", files={"image": "people"},
      fills=one("person", ["my sister", "Anna", "my dad", "Grandpa Joe", "Priya", "Tom",
                           "my boss"]), n=6, say=[
        "Is {person} in {image}?",
        "Can you spot {person} in this picture?",
        "Check whether {person} shows up in {image}.",
        "Did {person} make it into this photo?",
        "Look for {person} in this party pic.",
    ], plan=[S(FACE, "Recognize the faces in {image}", image="{image}")]),
    T("object.what_objects", "face-object", "train", files={"image": "room"}, n=6, say=[
        "What objects are in {image}?",
        "What's in this picture?",
        "List everything you can see in {image}.",
        "Tell me what things are in this photo.",
        "whats in this pic",
    ], plan=[S(OD, "Detect the objects in {image}", image="{image}")]),
    T("object.count_cars", "face-object", "test", files={"image": "street"}, n=6, say=[
        "How many cars are in {image}?",
        "Count the cars in this photo.",
        "How many vehicles can you see in {image}?",
        "Are there more than five cars in this picture?",
        "Count the bikes and cars in {image}.",
    ], plan=[S(OD, "Detect the vehicles in {image}", image="{image}")]),
    T("object.is_there_dog", "face-object", "dev", files={"image": "pet"}, n=6, say=[
        "Is there a dog in {image}?",
        "Is the cat in this photo?",
        "Can you see any animals in {image}?",
        "Did the dog get into the garden? Here's the picture.",
        "Is there a pet anywhere in this shot?",
    ], plan=[S(OD, "Detect objects and animals in {image}", image="{image}")]),
    T("object.find_item", "face-object", "train", files={"image": "room"},
      fills=one("item", ["laptop", "phone", "umbrella", "backpack", "remote", "handbag",
                         "scissors", "book"]), n=6, say=[
        "Did I leave my {item} on the desk? Check {image}.",
        "Is my {item} in this picture?",
        "Can you see my {item} anywhere in {image}?",
        "Where's the {item} in {image}?",
        "I've lost my {item}. Is it somewhere in this photo?",
    ], plan=[S(OD, "Detect the objects in {image}", image="{image}")]),
    T("object.count_people", "face-object", "train", files={"image": "doorbell"}, say=[
        "How many people are at the door in {image}?",
        "How many people are on the porch?",
        "Count the people in this doorbell picture.",
        "Is anyone at the gate? Here's the snapshot.",
        "How many visitors are in {image}?",
    ], plan=[S(OD, "Detect the people in {image}", image="{image}")]),
    T("face.known_at_door", "face-object", "train", files={"image": "doorbell"}, n=6, say=[
        "Is there anyone I know at the door?",
        "Who's ringing the bell in {image}?",
        "Do you recognize the person in this doorbell snapshot?",
        "Is that my neighbour at the gate in {image}?",
        "Somebody's at the door. Is it someone you've learned the face of?",
    ], plan=[S(FACE, "Recognize the face in {image}", image="{image}")]),
    T("object.fridge", "face-object", "train", files={"image": "fridge"}, say=[
        "What's in my fridge?",
        "What food do I have left? Photo of the fridge attached.",
        "Tell me what you can see in {image}.",
        "Do I have any bananas or oranges? Check {image}.",
        "What could I cook with what's in this photo?",
    ], plan=[S(OD, "Detect the food items in {image}", image="{image}")]),
    T("face.unknown_faces", "face-object", "test", files={"image": "people"}, n=6, say=[
        "Are there any faces you don't recognize in {image}?",
        "Is there a stranger in this picture?",
        "Anyone unfamiliar in {image}?",
        "Check this snapshot for people I haven't enrolled.",
        "Does everyone in this photo have a name in your face list?",
    ], plan=[S(FACE, "Recognize the faces in {image}", image="{image}")]),
    T("object.fridge_save", "face-object", "train", files={"image": "fridge"}, n=6, say=[
        "Remember what's in my fridge right now.",
        "Save the contents of {image} to memory.",
        "Log what's in the fridge so I can check later.",
        "Keep a note of the groceries in this photo.",
        "Make a note of what food is in {image}.",
    ], plan=[S(OD, "Detect the food in {image}", image="{image}"),
             S(SAVE, "Save the list of items to memory", dep=[0], text=GEN + "0")]),
    T("face.who_and_notes", "face-object", "test", files={"image": "people"}, n=6, say=[
        "Who is this and what do I know about them?",
        "Recognize the person in {image} and pull up my notes on them.",
        "Who's in this photo? Also remind me of anything I've saved about them.",
        "Find my memories about whoever is in {image}.",
        "I've met this person before, haven't I? What did I note about them?",
    ], plan=[S(FACE, "Recognize the face in {image}", image="{image}"),
             S(SEARCH, "Search my memories for the person recognized", dep=[0],
               text=GEN + "0")]),
    T("object.objects_notes", "face-object", "train", files={"image": "room"}, say=[
        "Do I have any notes about the things in {image}?",
        "Look up my memories about what's in this photo.",
        "I took a picture of some stuff. Have I saved anything about these items?",
        "Check my notes for anything related to the objects in {image}.",
    ], plan=[S(OD, "Detect the objects in {image}", image="{image}"),
             S(SEARCH, "Search my memories for the detected objects", dep=[0],
               text=GEN + "0")]),
    T("face.party_save", "face-object", "train", files={"image": "people"}, n=6, say=[
        "Remember who was at the party in {image}.",
        "Save the names of the people in this photo.",
        "Note down who's in {image}.",
        "Keep a record of who came to dinner. Photo attached.",
        "Log the people in this picture to my memory.",
    ], plan=[S(FACE, "Recognize the faces in {image}", image="{image}"),
             S(SAVE, "Save who was recognized to memory", dep=[0], text=GEN + "0")]),
    T("face.who_and_what", "face-object", "train", files={"image": "people"}, n=6, say=[
        "Who is in {image} and what's on the table?",
        "Tell me who's in this photo and what things are around them.",
        "Name the people and the objects in {image}.",
        "Who's there and what are they holding? Photo attached.",
        "Faces and objects in {image}, please.",
    ], plan=[S(FACE, "Recognize the faces in {image}", image="{image}"),
             S(OD, "Detect the objects in {image}", image="{image}")]),
    T("object.compare_cars", "face-object", "test",
      files={"image": "street", "image2": "street"}, say=[
        "Which photo has more cars, {image} or {image2}?",
        "Compare the number of cars in these two pictures.",
        "Did more cars show up in {image2} than in {image}?",
        "Count the vehicles in both {image} and {image2}.",
        "Which of these two parking shots is emptier?",
    ], plan=[S(OD, "Detect the vehicles in {image}", image="{image}"),
             S(OD, "Detect the vehicles in {image2}", image="{image2}")]),
    T("face.same_person", "face-object", "dev",
      files={"image": "people", "image2": "people"}, say=[
        "Is the same person in {image} and {image2}?",
        "Are these two photos of the same person?",
        "Does whoever is in {image} also appear in {image2}?",
        "Check if anyone shows up in both pictures.",
    ], plan=[S(FACE, "Recognize the faces in {image}", image="{image}"),
             S(FACE, "Recognize the faces in {image2}", image="{image2}")]),
    T("object.room_changes", "face-object", "train",
      fills=[{"image": a, "image2": b} for a, b in ROOM_PAIRS], n=6, say=[
        "What's different between {image} and {image2}?",
        "Did anything go missing between these two photos?",
        "Compare the objects in {image} and {image2}.",
        "Spot what changed between these two pictures.",
        "Which things are in {image} but not in {image2}?",
    ], plan=[S(OD, "Detect the objects in {image}", image="{image}"),
             S(OD, "Detect the objects in {image2}", image="{image2}")]),
    T("face.visitor_log", "face-object", "dev", files={"image": "doorbell"}, say=[
        "Log who came to the door in {image}.",
        "Remember who rang the bell today. Here's the doorbell picture.",
        "Save the visitor in {image} to my memory.",
        "Keep a record of who was at the gate in this snapshot.",
        "Note down who's on the porch in {image}.",
    ], plan=[S(FACE, "Recognize the visitor in {image}", image="{image}"),
             S(SAVE, "Save who visited to memory", dep=[0], text=GEN + "0")]),
    T("object.shelf_count", "face-object", "train", files={"image": "room"},
      fills=one("thing", ["bottles", "cups", "books", "chairs", "potted plants", "bowls"]),
      say=[
        "How many {thing} are in {image}?",
        "Count the {thing} in this photo.",
        "Are there more than three {thing} in {image}?",
        "Tell me how many {thing} you can see here.",
        "Quick count of the {thing} in {image}, please.",
    ], plan=[S(OD, "Detect and count the {thing} in {image}", image="{image}")]),
    T("face.none_enroll", "face-object", "train", n=4, say=[
        "How do I teach you my family's faces?",
        "Can you recognise people you haven't been shown before?",
        "How do I add a new person to face recognition?",
        "Where are the face photos I enrolled stored?",
        "Can I remove someone from the faces you know?",
    ], plan=[]),
    T("object.none_capabilities", "face-object", "test", n=4, say=[
        "What kinds of objects can you spot in photos?",
        "How accurate is your object detection?",
        "Does face recognition work in the dark?",
        "Can you read the text on a sign in a photo?",
    ], plan=[]),

    # --------------------------------------------------------------------------- memory
    T("memory.what_told", "memory", "train", fills=facts(0, 8), n=6, say=[
        "What did I tell you about {topic}?",
        "What do you remember about {topic}?",
        "Remind me what I said about {topic}.",
        "Did I ever mention {topic} to you?",
        "Look up {topic} in my notes.",
        "what was that thing about {topic} again",
    ], plan=[S(SEARCH, "Search my memories for {topic}", text="{topic}")]),
    T("memory.when", "memory", "test", fills=one("topic", [
        "my dentist appointment", "the car insurance renewal", "the parent-teacher meeting",
        "my flight to Lisbon", "the recycling collection", "Mum's hospital check-up",
        "the quarterly tax deadline"]), n=6, say=[
        "When is {topic}?",
        "Remind me when {topic} is.",
        "Do you know the date of {topic}?",
        "What time did I say {topic} was?",
        "When's {topic} again?",
    ], plan=[S(SEARCH, "Look up {topic} in my memories", text="{topic}")]),
    T("memory.where", "memory", "train", fills=one("topic", [
        "the spare key", "my passport", "the Christmas tree stand",
        "the warranty for the fridge", "my bike lock key", "the spare phone charger",
        "the garden hose"]), n=6, say=[
        "Where did I put {topic}?",
        "Where is {topic}? I know I told you.",
        "Did I tell you where I keep {topic}?",
        "I can't find {topic}. Where did I say it was?",
        "Where did I leave {topic} last time?",
    ], plan=[S(SEARCH, "Search my memories for {topic}", text="{topic}")]),
    T("memory.contact", "memory", "train", fills=one("person", [
        "Tom", "the plumber", "my landlord", "Dr. Osei", "Anna's mum", "the babysitter"]),
      n=6, say=[
        "What's {person}'s phone number?",
        "Do I have a number for {person} saved?",
        "How do I reach {person}?",
        "Find {person}'s contact details in my notes.",
        "What did I save about {person}?",
    ], plan=[S(SEARCH, "Search my memories for {person}", text="{person}")]),
    T("memory.name_of", "memory", "train", fills=one("thing", [
        "the restaurant we liked in Porto", "that podcast about sleep",
        "the wine we had at Christmas", "the hotel in Edinburgh",
        "the physio my doctor recommended", "the paint colour for the hallway"]), n=6, say=[
        "What was the name of {thing}?",
        "Can you remind me of {thing}?",
        "I forgot {thing}. Did I save it?",
        "Look up {thing} in my memories.",
        "Do you have {thing} written down somewhere?",
    ], plan=[S(SEARCH, "Search my memories for {thing}", text="{thing}")]),
    T("memory.remember", "memory", "train", fills=facts(0, 8), n=7, say=[
        "Remember that {fact}.",
        "Please remember: {fact}.",
        "Keep in mind that {fact}.",
        "Note that {fact}.",
        "remember {fact}",
        "Don't let me forget that {fact}.",
    ], plan=[S(SAVE, "Save to memory that {fact}", text="{fact}")]),
    T("memory.note_down", "memory", "test", fills=facts(14, 22), n=6, say=[
        "Make a note: {fact}.",
        "Write this down for me: {fact}.",
        "Save this for later: {fact}.",
        "Add to my notes that {fact}.",
        "Can you store the fact that {fact}?",
    ], plan=[S(SAVE, "Save the note that {fact}", text="{fact}")]),
    T("memory.update", "memory", "dev", fills=facts(22, 28), say=[
        "Update: {fact}.",
        "FYI, {fact}, so please remember that.",
        "Just so you know, {fact}. Keep that in mind.",
        "Heads up, {fact}. Save that.",
        "Things changed: {fact}. Please remember it.",
    ], plan=[S(SAVE, "Save to memory that {fact}", text="{fact}")]),
    T("memory.save_and_ask", "memory", "train",
      fills=[{"fact": FACTS[8 + i][0], "topic": FACTS[(i + 3) % 8][1]} for i in range(6)],
      n=6, say=[
        "Remember that {fact}. Also, what did I tell you about {topic}?",
        "Save this: {fact}. And remind me about {topic}.",
        "Note that {fact}, and look up {topic} for me.",
        "Two things: remember {fact}, and what do you have on {topic}?",
    ], plan=[S(SAVE, "Save to memory that {fact}", text="{fact}"),
             S(SEARCH, "Search my memories for {topic}", text="{topic}")]),
    T("memory.two_searches", "memory", "test",
      fills=[{"topic": FACTS[14 + i][1], "topic2": FACTS[14 + (i + 3) % 8][1]}
             for i in range(8)], n=6, say=[
        "What do you know about {topic} and {topic2}?",
        "Look up {topic} and also {topic2}.",
        "Remind me about {topic}, and about {topic2} too.",
        "Search my notes for {topic} and for {topic2}.",
    ], plan=[S(SEARCH, "Search my memories for {topic}", text="{topic}"),
             S(SEARCH, "Search my memories for {topic2}", text="{topic2}")]),
    T("memory.two_saves", "memory", "dev", fills=fact_pairs(28, 36), say=[
        "Remember that {fact} and that {fact2}.",
        "Two notes: {fact}; also, {fact2}.",
        "Please save these: {fact}, and {fact2}.",
        "Keep in mind that {fact}. Oh, and {fact2}.",
    ], plan=[S(SAVE, "Save to memory that {fact}", text="{fact}"),
             S(SAVE, "Save to memory that {fact2}", text="{fact2}")]),
    T("memory.none_joke", "memory", "train", n=4, say=[
        "Tell me a joke.",
        "Say something funny.",
        "Know any good puns?",
        "Cheer me up with a joke.",
        "Tell me a knock-knock joke.",
    ], plan=[]),
    T("memory.none_math", "memory", "test", n=4, say=[
        "What's 12 times 7?",
        "How much is 15% of 80?",
        "What's 144 divided by 12?",
        "Convert 5 miles to kilometres.",
    ], plan=[]),
    T("memory.none_howto", "memory", "train", n=4, say=[
        "How do I delete something you remembered?",
        "Where are my memories stored?",
        "Do my memories ever leave this computer?",
        "How many things can you remember?",
    ], plan=[]),

    # ---------------------------------------------------------------------------- mixed
    T("mixed.who_doing", "mixed", "train", files={"image": "people"}, n=6, say=[
        "Who is here and what are they doing?",
        "Who's in {image}, and are they sitting or standing?",
        "Tell me who is in this picture and their posture.",
        "Identify the people in {image} and describe how they're positioned.",
        "Who's in the room and what are they up to?",
    ], plan=[S(FACE, "Recognize the faces in {image}", image="{image}"),
             S(POSE, "Estimate the poses of the people in {image}", image="{image}")]),
    T("mixed.person_posture", "mixed", "test", files={"image": "monitor"},
      fills=one("person", ["Dad", "Grandma", "Mum", "Grandpa Joe", "Aunt Rosa", "my son"]),
      n=6, say=[
        "Is {person} sitting or standing in {image}?",
        "Is {person} lying down in this picture?",
        "Find {person} in {image} and tell me whether they're standing.",
        "Has {person} fallen? Check {image}.",
        "What is {person} doing in this photo: sitting, standing or lying down?",
    ], plan=[S(FACE, "Recognize the faces in {image} to find {person}", image="{image}"),
             S(POSE, "Estimate the poses in {image}", image="{image}")]),
    T("mixed.audio_and_image", "mixed", "train", files={"audio": "memo", "image": "room"},
      n=6, say=[
        "Transcribe {audio} and tell me what's in {image}.",
        "Here's a voice note and a photo. Write out the note and list the objects in the "
        "picture.",
        "What do I say in {audio}, and what can you see in {image}?",
        "Two things: type up this recording, and tell me what's in the photo.",
    ], plan=[S(STT, "Transcribe the voice note {audio}", audio="{audio}"),
             S(OD, "Detect the objects in {image}", image="{image}")]),
    T("mixed.party_note_photo", "mixed", "dev", files={"image": "people", "audio": "memo"},
      say=[
        "Who's in {image}, and what did I say about the party in {audio}?",
        "Here's a photo and a voice note from the party. Who's in the picture and what's "
        "in the recording?",
        "Recognize the people in this photo and transcribe my note about them.",
        "Tell me who is in {image} and write out {audio}.",
    ], plan=[S(FACE, "Recognize the faces in {image}", image="{image}"),
             S(STT, "Transcribe the voice note {audio}", audio="{audio}")]),
    T("mixed.fall_hazard", "mixed", "train", files={"image": "monitor"}, n=6, say=[
        "Is anyone lying on the floor, and is there anything they could have tripped over?",
        "Check {image}: has someone fallen, and what objects are lying around?",
        "Look at this camera frame for a fallen person and any obstacles on the floor.",
        "Is grandma okay in {image}? Also, what's on the floor near her?",
    ], plan=[S(POSE, "Estimate the poses in {image}", image="{image}"),
             S(OD, "Detect the objects in {image}", image="{image}")]),
    T("mixed.remember_note_and_faces", "mixed", "test",
      files={"audio": "memo", "image": "people"}, say=[
        "Remember this voice note and who is in this photo.",
        "Save {audio} to memory, and also remember who's in {image}.",
        "Transcribe {audio} and store it, then recognize the people in {image} and store "
        "their names too.",
        "Keep both in my memory: what I said in {audio} and who appears in {image}.",
    ], plan=[S(STT, "Transcribe the voice note {audio}", audio="{audio}"),
             S(SAVE, "Save the transcript to memory", dep=[0], text=GEN + "0"),
             S(FACE, "Recognize the faces in {image}", image="{image}"),
             S(SAVE, "Save who was recognized to memory", dep=[2], text=GEN + "2")]),
    T("mixed.everything", "mixed", "train", files={"image": "people"}, n=6, say=[
        "Tell me everything about {image}: who's there, what's there, and what they're doing.",
        "Analyze this photo fully: faces, objects and postures.",
        "Who is in {image}, what objects are around, and is anyone sitting?",
        "Give me the full picture: people, things and poses in {image}.",
    ], plan=[S(FACE, "Recognize the faces in {image}", image="{image}"),
             S(OD, "Detect the objects in {image}", image="{image}"),
             S(POSE, "Estimate the poses in {image}", image="{image}")]),
    T("mixed.item_check", "mixed", "train", files={"image": "room"},
      fills=one("item", ["the spare key", "my passport", "the tax folder", "the first-aid kit",
                         "my glasses case", "the car charger"]), n=6, say=[
        "Where did I say {item} should be, and is it in {image}?",
        "Check my notes for {item} and see if it's in this photo.",
        "Look up {item} in my memories and check {image} for it.",
        "Is {item} where I said it would be? Here's a picture of the spot.",
    ], plan=[S(SEARCH, "Search my memories for {item}", text="{item}"),
             S(OD, "Detect the objects in {image}", image="{image}")]),
    T("mixed.meeting_with_faces", "mixed", "train",
      files={"audio": "meeting", "image": "attendees"}, n=6, say=[
        "Transcribe {audio}, tell me who's in {image}, and save the meeting notes.",
        "Here's the meeting recording and a photo of the attendees. Who attended? And keep "
        "the transcript in memory.",
        "Save the notes from {audio} and recognize the attendees in {image}.",
        "Remember this meeting and tell me who was in the room (photo attached).",
    ], plan=[S(STT, "Transcribe the meeting recording {audio}", audio="{audio}"),
             S(FACE, "Recognize the attendees in {image}", image="{image}"),
             S(SAVE, "Save the meeting transcript to memory", dep=[0], text=GEN + "0")]),
    T("mixed.posture_and_voice", "mixed", "dev", files={"audio": "memo", "image": "webcam"},
      say=[
        "Save my back-pain note from {audio} and check my posture in {image}.",
        "Remember what I said about my back in this recording, and look at my posture in "
        "the photo.",
        "Transcribe {audio} into my memory and tell me if I'm slouching in {image}.",
        "Log this voice note about my neck pain and check how I'm sitting in {image}.",
    ], plan=[S(STT, "Transcribe the voice note {audio}", audio="{audio}"),
             S(SAVE, "Save the transcript to memory", dep=[0], text=GEN + "0"),
             S(POSE, "Estimate my posture in {image}", image="{image}")]),
    T("mixed.face_pose_notes", "mixed", "test", files={"image": "monitor"}, say=[
        "Who is lying on the floor in {image}, and what do I have saved about them?",
        "Someone is sitting in the chair in {image}. Who is it and what have I noted about "
        "them?",
        "Identify whoever is in {image}, say whether they're standing, and pull up my notes "
        "on them.",
        "Recognize the person in this camera frame, check their posture, and look them up in "
        "my memories.",
    ], plan=[S(FACE, "Recognize the faces in {image}", image="{image}"),
             S(POSE, "Estimate the poses in {image}", image="{image}"),
             S(SEARCH, "Search my memories for the person recognized", dep=[0],
               text=GEN + "0")]),
    T("mixed.fridge_voice_list", "mixed", "train", files={"audio": "memo", "image": "fridge"},
      n=6, say=[
        "Compare my shopping list in {audio} with what's in {image}. What am I missing?",
        "Here's my grocery voice note and a photo of the fridge. What do I still need to buy?",
        "Check the fridge photo against the list I dictated.",
        "Which items from {audio} aren't in the fridge picture?",
    ], plan=[S(STT, "Transcribe the shopping list in {audio}", audio="{audio}"),
             S(OD, "Detect the food in {image}", image="{image}")]),
    T("mixed.doorbell_voicemail", "mixed", "test",
      files={"image": "doorbell", "audio": "intercom"}, say=[
        "Who is at the door in {image}, and what did they say in {audio}?",
        "The doorbell recorded a message and a picture. Who was it and what did they want?",
        "Recognize the visitor in {image} and transcribe their message in {audio}.",
        "Tell me what the visitor said in {audio} and whether I know them from {image}.",
    ], plan=[S(FACE, "Recognize the visitor's face in {image}", image="{image}"),
             S(STT, "Transcribe the visitor's message {audio}", audio="{audio}")]),
    T("mixed.trainer_note", "mixed", "dev", files={"audio": "coach", "image": "exercise"},
      say=[
        "My trainer sent {audio} about my squat. Am I doing what she said in {image}?",
        "Here's my coach's voice message and a photo of my form. Does my form match the "
        "advice?",
        "Transcribe the feedback in {audio} and check my body position in {image}.",
        "Listen to my physio's note and tell me if my posture in the picture follows it.",
    ], plan=[S(STT, "Transcribe the trainer's message {audio}", audio="{audio}"),
             S(POSE, "Estimate my body pose in {image}", image="{image}")]),
    T("mixed.none_general", "mixed", "train", n=5, say=[
        "What's the capital of Australia?",
        "Write a haiku about autumn.",
        "Give me a synonym for 'happy'.",
        "Explain what a black hole is in one sentence.",
        "How do I boil an egg?",
    ], plan=[]),
    T("mixed.none_chat", "mixed", "test", n=4, say=[
        "Thanks, that's all for now.",
        "Good morning! How are you?",
        "What can you help me with?",
        "Tell me a fun fact about octopuses.",
    ], plan=[]),
]


# --------------------------------------------------------------------------------------------
# Building and checking records.


class DataError(AssertionError):
    pass


def file_kind(name: str) -> str:
    low = name.lower()
    if low.endswith(AUDIO_EXT):
        return "audio"
    if low.endswith(IMAGE_EXT):
        return "image"
    raise DataError(f"{name!r} has neither an audio nor an image extension")


def shape(tasks: list[dict]) -> str:
    """no-tool, single, chain (one path, each task feeding the next) or branching (anything
    else: several roots, or a task with two dependents or two dependencies)."""
    if not tasks:
        return "no-tool"
    if len(tasks) == 1:
        return "single"
    deps = {t["id"]: [d for d in t["dep"] if d != -1] for t in tasks}
    children = Counter(d for ds in deps.values() for d in ds)
    roots = [i for i, ds in deps.items() if not ds]
    if len(roots) == 1 and all(len(ds) <= 1 for ds in deps.values()) \
            and all(c <= 1 for c in children.values()):
        return "chain"
    return "branching"


def check_record(rec: dict) -> None:
    """The rules of agent.plan.validate plus the ones this data set promises on top."""
    plan = rec["plan"]
    validate(plan_from_obj(plan), SPEC_TOOLS, attachments=rec["attachments"])
    tasks, steps = plan["tasks"], plan["steps"]
    where = f"{rec['template']} / {rec['instruction']!r}"
    if len(steps) != len(tasks):
        raise DataError(f"{where}: {len(steps)} steps for {len(tasks)} tasks")
    used: set[str] = set()
    for i, t in enumerate(tasks):
        if t["id"] != i:
            raise DataError(f"{where}: task ids must be 0..n-1 in order")
        if t["dep"] != [-1] and not all(0 <= d < i for d in t["dep"]):
            raise DataError(f"{where}: task {i} depends on a later task or mixes -1 in")
        for name, value in t["args"].items():
            kind = SPEC_TOOLS[t["task"]][name]
            if kind in ("audio", "image"):
                if file_kind(value) != kind:
                    raise DataError(f"{where}: {value!r} given as {kind}")
                used.add(value)
            elif value.startswith(GEN) and not re.fullmatch(r"<GENERATED>-\d+", value):
                raise DataError(f"{where}: text mixes a <GENERATED> reference with words")
            if "{" in value or "}" in value:
                raise DataError(f"{where}: unfilled slot in {value!r}")
    if set(rec["attachments"]) != used or len(set(rec["attachments"])) != len(rec["attachments"]):
        raise DataError(f"{where}: attachments {rec['attachments']} but tasks use {sorted(used)}")
    for text in [rec["instruction"], *steps]:
        if "{" in text or "}" in text or not text.strip():
            raise DataError(f"{where}: bad text {text!r}")


def expand(t: Template, seen: set[str]) -> list[dict]:
    """The records of one template. Paraphrases are used once each in a shuffled order; when
    a template has more records than paraphrases, the extra ones reuse paraphrases that
    name a file or a filled-in text, so no instruction repeats (`seen` holds the instructions
    of the templates made before). File names are dealt from a shuffled deck per pool, so a
    template uses as many different names as its pools have."""
    rng = random.Random(SEED * 1000003 + zlib.crc32(t.id.encode()))
    say = list(t.say)
    rng.shuffle(say)
    with_slots = [p for p in say if "{" in p] or say
    fills = list(t.fills) or [{}]
    rng.shuffle(fills)
    decks: dict[str, list[str]] = {}

    def deal(pool: str, taken: set[str]) -> str:
        deck = decks.setdefault(pool, [])
        for _ in range(2):
            for k, name in enumerate(deck):
                if name not in taken:
                    return deck.pop(k)
            deck.extend(rng.sample(FILES[pool], len(FILES[pool])))
        raise DataError(f"{t.id}: pool {pool!r} is too small")

    records: list[dict] = []
    i = 0
    while len(records) < t.n:
        if i > 50 * t.n:
            raise DataError(f"{t.id}: cannot make {t.n} distinct records")
        values = dict(fills[i % len(fills)])
        phrase = say[i] if i < len(say) else with_slots[(i - len(say)) % len(with_slots)]
        i += 1
        taken = {v for k, v in values.items() if k.startswith(("audio", "image"))}
        for slot, pool in t.files.items():
            values[slot] = deal(pool, taken)
            taken.add(values[slot])
        tasks, steps, attachments = [], [], []
        for k, s in enumerate(t.plan):
            args = {name: v.format(**values) for name, v in s.args.items()}
            for name, v in args.items():
                if SPEC_TOOLS[s.task][name] in ("audio", "image") and v not in attachments:
                    attachments.append(v)
            tasks.append({"task": s.task, "id": k, "dep": s.dep or [-1], "args": args})
            steps.append(s.step.format(**values))
        instruction = phrase.format(**values)
        if instruction in seen:
            continue
        seen.add(instruction)
        records.append({"scenario": t.scenario, "instruction": instruction,
                        "attachments": attachments, "plan": {"steps": steps, "tasks": tasks},
                        "template": t.id})
    return records


def build() -> dict[str, list[dict]]:
    ids = [t.id for t in TEMPLATES]
    if len(set(ids)) != len(ids):
        raise DataError("two templates share an id")
    counters: Counter[str] = Counter()
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    seen: set[str] = set()
    for t in TEMPLATES:
        if t.scenario not in SCENARIOS or t.split not in SPLITS:
            raise DataError(f"{t.id}: unknown scenario or split")
        for rec in expand(t, seen):
            counters[t.scenario] += 1
            rec = {"id": f"{t.scenario}-{counters[t.scenario]:04d}", **rec}
            check_record(rec)
            out[t.split].append(rec)
    check_splits(out)
    return out


def check_splits(out: dict[str, list[dict]]) -> None:
    total = sum(len(v) for v in out.values())
    for split, recs in out.items():
        share = len(recs) / total
        if abs(share - TARGET_SHARE[split]) > SHARE_TOLERANCE:
            raise DataError(f"{split} holds {share:.0%} of the records")
        missing = set(SCENARIOS) - {r["scenario"] for r in recs}
        if missing:
            raise DataError(f"{split} has no {sorted(missing)} records")
    instructions: dict[str, str] = {}
    for split, recs in out.items():
        for r in recs:
            if instructions.setdefault(r["instruction"], split) != split:
                raise DataError(f"{r['instruction']!r} appears in two splits")


# --------------------------------------------------------------------------------------------
# Output.


def dumps(rec: dict) -> str:
    return json.dumps(rec, ensure_ascii=False)


def table(rows: list[str], cols: list[str], cell, first: str) -> list[str]:
    lines = ["| " + " | ".join([first, *cols, "total"]) + " |",
             "|" + "---|" * (len(cols) + 2)]
    for r in rows:
        vals = [cell(r, c) for c in cols]
        lines.append("| " + " | ".join([r, *map(str, vals), str(sum(vals))]) + " |")
    totals = [sum(cell(r, c) for r in rows) for c in cols]
    lines.append("| " + " | ".join(["**total**", *map(str, totals), str(sum(totals))]) + " |")
    return lines


def stats(out: dict[str, list[dict]]) -> str:
    allrecs = [r for s in SPLITS for r in out[s]]
    total = len(allrecs)
    by = Counter((r["scenario"], s) for s in SPLITS for r in out[s])
    shapes = ("no-tool", "single", "chain", "branching")
    by_shape = Counter((shape(r["plan"]["tasks"]), s) for s in SPLITS for r in out[s])
    by_shape_sc = Counter((shape(r["plan"]["tasks"]), r["scenario"]) for r in allrecs)
    templates = {s: sorted({r["template"] for r in out[s]}) for s in SPLITS}
    ntasks = Counter(len(r["plan"]["tasks"]) for r in allrecs)
    tools = Counter(t["task"] for r in allrecs for t in r["plan"]["tasks"])
    nattach = Counter(len(r["attachments"]) for r in allrecs)
    gen = sum(1 for r in allrecs if any(GEN in v for t in r["plan"]["tasks"]
                                        for v in t["args"].values()))
    lines = [f"{total} records from {len(TEMPLATES)} templates "
             f"(seed {SEED}).", "",
             "Records per scenario and split:", "",
             *table(list(SCENARIOS), list(SPLITS), lambda r, c: by[(r, c)], "scenario"), "",
             "Split shares: " + ", ".join(f"{s} {len(out[s]) / total:.1%} "
                                          f"({len(templates[s])} templates)" for s in SPLITS)
             + ".", "",
             "Graph shapes per split (no-tool: no tasks; single: one task; chain: one path, "
             "each task feeding the next; branching: two or more roots, or a task feeding two "
             "others):", "",
             *table(list(shapes), list(SPLITS), lambda r, c: by_shape[(r, c)], "shape"), "",
             "Graph shapes per scenario:", "",
             *table(list(shapes), list(SCENARIOS), lambda r, c: by_shape_sc[(r, c)], "shape"),
             "",
             f"No-tool share: {sum(by_shape[('no-tool', s)] for s in SPLITS) / total:.1%}. "
             f"Records passing an output on with `<GENERATED>-N`: {gen}.", "",
             "Tasks per plan: " + ", ".join(f"{k}: {ntasks[k]}" for k in sorted(ntasks)) + ".",
             "Attachments per record: " + ", ".join(f"{k}: {nattach[k]}"
                                                     for k in sorted(nattach)) + ".",
             "Task calls by expert: " + ", ".join(f"{k} {v}" for k, v in
                                                  sorted(tools.items())) + ".", "",
             "Templates per split:", ""]
    for s in SPLITS:
        lines.append(f"- {s}: " + ", ".join(f"`{t}`" for t in templates[s]))
    return "\n".join(lines)


def write(out_dir: Path) -> dict[str, list[dict]]:
    out = build()
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, recs in out.items():
        text = "".join(dumps(r) + "\n" for r in recs)
        (out_dir / f"q2a_{split}.jsonl").write_text(text, encoding="utf-8")
    card = HERE / "DATACARD.md"
    if card.exists():
        text = card.read_text(encoding="utf-8")
        head, sep, rest = text.partition(STATS_BEGIN)
        _, sep2, tail = rest.partition(STATS_END)
        if not (sep and sep2):
            raise DataError("DATACARD.md lacks the stats markers")
        text = head + STATS_BEGIN + "\n" + stats(out) + "\n" + STATS_END + tail
        (out_dir / "DATACARD.md").write_text(text, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE, help="folder to write to (default: here)")
    args = ap.parse_args(argv)
    out = write(args.out)
    total = sum(len(v) for v in out.values())
    print(f"wrote {total} records: " + ", ".join(f"{s} {len(out[s])}" for s in SPLITS)
          + f" -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
