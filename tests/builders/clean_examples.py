"""Small valid raw folders in the contract's shapes (for tests, the bad-input corpus and docs).

These are tiny hand-made examples, not the synthetic demonstration data (pipeline.simulate).
"""
from __future__ import annotations

from pathlib import Path

SURVEY_CODEBOOK = """item,feature,text,reverse
q01,governance,The board has clear terms of reference,false
q02,governance,Decisions are recorded and followed up,false
q03,barriers,Conflicting agency targets get in the way,true
"""
SURVEY_RESPONSES = """response_id,submitted_at,area,agency,role,q01,q02,q03,meetings_per_year,members,comments
r001,2015-03-02T10:15:00,Kent Police,Police,Chair,Strongly agree,Agree,Disagree,Quarterly,police;CPS;HMCTS,
r002,03/03/2015 09:30,kent,Crown Prosecution Service,Board member,agree,Don't know,,6,Police;Probation,Call me on 07700 900123
r003,2015-03-04 11:00,MPS,HMCTS,Officer/support,Neither agree nor disagree,Disagree,Strongly disagree,Monthly,,
r004,2015-03-05T08:00:00Z,City of London Police,NPS,Other,Strongly disagree,Strongly agree,Agree,Twice a year,YOT;OPCC,fine
r005,2015-03-06T12:00,London CJB,YOT,Board member,Agree,Agree,Agree,4,Police,
"""
SURVEY_INVITED = """area,agency,invited
Kent,Police,3
Kent,CPS,2
Metropolitan Police,Courts,4
City of London,Probation,1
"""

FIELDWORK_CODEBOOK = """code,theme,description,valence
shared_priorities,priority_setting,Partners agree priorities,1
silo_targets,barriers,Agency targets conflict,-1
attendance,engagement,Who attends,0
"""
FIELDWORK_SEGMENTS = """segment_id,area,source_type,source_id,agency,coder,code,excerpt
s001,Kent,interview,i01,Police,A,shared_priorities,We agreed priorities together. Email me at jo@kent.gov.uk
s001,Kent,interview,i01,Police,B,shared_priorities,We agreed priorities together. Email me at jo@kent.gov.uk
s002,Dyfed Powys,focus_group,f01,CPS,A,silo_targets,Our targets pull us apart; ring 01234 567890
s003,Dyfed-Powys Police,document,d01,Courts,A,attendance,Minutes list attendance at SA31 2PF
"""
FIELDWORK_MEETINGS = """area,meeting_date,agency,attended,senior
Kent,2015-01-14,Police,Y,Y
Kent,14/04/2015,CPS,N,N
Dyfed Powys,2015-02-02,Courts,y,n
"""
FIELDWORK_QUOTES = """segment_id
s001
s002
"""

MEASURES = """measure,description,unit,higher_is_better
ineffective_trial_rate,Ineffective trials as a share of trials listed,percent,false
days_offence_to_completion,Mean days from offence to completion,days,false
offences_brought_to_justice,Offences brought to justice,count,true
"""
OUTCOMES = """area,period,measure,value,numerator,denominator,source
Kent,2014,ineffective_trial_rate,12.5,25,200,example
Metropolitan Police,2014,ineffective_trial_rate,20,200,1000,example
City of London Police,2014,ineffective_trial_rate,10,10,100,example
Kent,2014/15,days_offence_to_completion,150,,,example
Metropolitan Police,2014/15,days_offence_to_completion,160,,,example
City of London,2014/15,days_offence_to_completion,100,,,example
Kent,2014 Q3,offences_brought_to_justice,1000,,,example
MPS,2014 Q3,offences_brought_to_justice,9000,,,example
City of London Police,2014 Q3,offences_brought_to_justice,100,,,example
Dyfed Powys,2014-15,ineffective_trial_rate,8,8,100,example
"""
COVARIATES = """area,period,variable,value,source
Kent,2014,population,1800000,example
Metropolitan Police,2014,population,8500000,example
City of London Police,2014,population,9000,example
Kent,2014,crime_per_1000,60,example
Metropolitan Police,2014,crime_per_1000,90,example
City of London Police,2014,crime_per_1000,300,example
London,2014,urban_share,1.0,example
"""


def write(folder: Path, files: dict[str, str], encoding: str = "utf-8") -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode(encoding))
    return folder


def survey_files() -> dict[str, str]:
    return {"codebook.csv": SURVEY_CODEBOOK, "responses_wave1.csv": SURVEY_RESPONSES, "invited.csv": SURVEY_INVITED}


def fieldwork_files() -> dict[str, str]:
    return {"codebook.csv": FIELDWORK_CODEBOOK, "coded_segments.csv": FIELDWORK_SEGMENTS,
            "board_meetings.csv": FIELDWORK_MEETINGS, "approved_quotes.csv": FIELDWORK_QUOTES}


def outcome_files() -> dict[str, str]:
    return {"measures.csv": MEASURES, "outcomes.csv": OUTCOMES}


def covariate_files() -> dict[str, str]:
    return {"covariates.csv": COVARIATES}
