#!/usr/bin/env node
// Prints the paths stored in a .vsix (a zip file), one a line, reading the zip's central directory,
// so that the packaged file itself can be checked with nothing but Node.
'use strict';
const fs = require('fs');

const zip = fs.readFileSync(process.argv[2]);
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;

let end = zip.length - 22;
while (end >= 0 && zip.readUInt32LE(end) !== END_OF_CENTRAL_DIRECTORY) {
    end -= 1;
}
if (end < 0) {
    console.error(`${process.argv[2]}: not a zip file`);
    process.exit(1);
}
const count = zip.readUInt16LE(end + 10);
let offset = zip.readUInt32LE(end + 16);
for (let index = 0; index < count; index += 1) {
    if (zip.readUInt32LE(offset) !== CENTRAL_DIRECTORY_ENTRY) {
        console.error(`${process.argv[2]}: corrupt central directory`);
        process.exit(1);
    }
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    console.log(zip.toString('utf8', offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + extraLength + commentLength;
}
