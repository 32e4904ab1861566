import assert from "node:assert/strict";
import { test } from "node:test";
import {
  fileCount,
  formatDate,
  formatSize,
  initials,
  orDash,
  profileName,
  secondsLeft,
  sessionLabel,
  timeLeft,
} from "../../ui/format.js";

test("sizes below a kilobyte are whole bytes", () => {
  assert.equal(formatSize(0), "0 B");
  assert.equal(formatSize(1023), "1023 B");
});

test("larger sizes are binary units with one decimal", () => {
  assert.equal(formatSize(1024), "1.0 KB");
  assert.equal(formatSize(1536), "1.5 KB");
  assert.equal(formatSize(1024 * 1024 - 1), "1024.0 KB");
  assert.equal(formatSize(1024 * 1024), "1.0 MB");
  assert.equal(formatSize(3.25 * 1024 ** 3), "3.3 GB");
  assert.equal(formatSize(5 * 1024 ** 4), "5.0 TB");
});

test("terabytes are the largest unit", () => {
  assert.equal(formatSize(2048 * 1024 ** 4), "2048.0 TB");
});

test("a date is the day, short, in the given locale", () => {
  // Noon local time, so the day is the same in every time zone the tests run in.
  const fifthOfJanuary = new Date(2024, 0, 5, 12).getTime();
  assert.equal(formatDate(fifthOfJanuary, "en-US"), "Jan 5, 2024");
  assert.equal(formatDate(fifthOfJanuary, "en-GB"), "5 Jan 2024");
});

test("an unknown date is a dash", () => {
  for (const missing of [0, null, undefined]) assert.equal(formatDate(missing), "—");
});

test("initials are the first and last words' first letters", () => {
  assert.equal(initials("Dana Demo", "dana@example.com"), "DD");
  assert.equal(initials("ada king lovelace", null), "AL");
  assert.equal(initials("  Wendy   Window  ", null), "WW");
});

test("a single word gives its first two letters, and the email stands in for the name", () => {
  assert.equal(initials("Cher", null), "CH");
  assert.equal(initials(null, "wendy@example.com"), "WE");
  assert.equal(initials("", "x"), "X");
  assert.equal(initials(null, null), "?");
});

test("the countdown counts whole seconds down to zero", () => {
  assert.equal(secondsLeft(10_000, 0), 10);
  assert.equal(secondsLeft(10_000, 9_400), 1);
  assert.equal(secondsLeft(10_000, 12_000), 0);
  assert.equal(timeLeft(305), "Time left: 5:05");
  assert.equal(timeLeft(59), "Time left: 0:59");
  assert.equal(timeLeft(0), "Time left: 0:00");
});

test("the file count says when more are to come", () => {
  assert.equal(fileCount(14, true), "14 files");
  assert.equal(fileCount(1, true), "1 file");
  assert.equal(fileCount(0, true), "0 files");
  assert.equal(fileCount(200, false), "200+ files");
});

test("names fall back to the email, and missing values to a dash", () => {
  assert.equal(profileName({ name: "Dana Demo", email: "d@example.com" }), "Dana Demo");
  assert.equal(profileName({ name: null, email: "d@example.com" }), "d@example.com");
  assert.equal(profileName({}), "Signed in");
  assert.equal(sessionLabel({ email: "d@example.com", name: "Dana" }), "d@example.com");
  assert.equal(sessionLabel({ email: null, name: "Dana" }), "Dana");
  assert.equal(sessionLabel({}), "");
  assert.equal(orDash(null), "—");
  assert.equal(orDash("org_1"), "org_1");
  assert.equal(orDash(""), "", "an empty value is shown as it is");
});
